/** Medians: what the bench reports of repeated measurements on a machine whose figures swing. */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function wallMs(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/**
 * The median wall times of `works` measured in turns, one run of each per round and the order reversed
 * every round: a ratio between them then compares runs from the same moments of a VM whose speed swings,
 * where one series after the other compared a fast phase with a slow one.
 */
export async function alternatingMedianMs(
  runs: number,
  works: ReadonlyArray<() => Promise<unknown>>,
): Promise<number[]> {
  const times: number[][] = works.map(() => []);
  for (let round = 0; round < runs; round++) {
    const order = works.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) times[i]!.push(await wallMs(works[i]!));
  }
  return times.map(median);
}
