/**
 * Group commit's queue: items that arrive while a batch is in flight wait and go out together in the
 * next one, so under load many share a round trip, and alone an item goes out at once. An item never
 * joins a batch already sent. `flush` settles every item of its batch itself, failures included.
 */
export class Coalescer<T> {
  private pending: T[] = [];
  private running = false;

  constructor(
    private readonly maxBatch: number,
    private readonly flush: (batch: T[]) => Promise<void>,
  ) {}

  add(item: T): void {
    this.pending.push(item);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0) await this.flush(this.pending.splice(0, this.maxBatch));
    } finally {
      this.running = false;
    }
  }
}
