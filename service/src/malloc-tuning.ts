/**
 * glibc's malloc gives memory back to the kernel as soon as more than 128 KiB sits free at the top of an
 * arena. A large download's decrypt thread makes a 64 KiB buffer for every segment it opens and frees
 * them in bulk at each collection, so its arena shrank and regrew every batch: about 2,700 page faults
 * per 256 MiB GET, each one dear on a VM. Kept up to 64 MiB, the pages are reused instead. Setting the
 * trim threshold stops glibc raising its mmap threshold as it goes, so that one is set too: blocks up to
 * 4 MiB come from the arena, not from a fresh mapping each (another 1,300 faults per GET otherwise).
 */
export const MALLOC_TUNING = 'glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=4194304';

/**
 * `env` with MALLOC_TUNING added to GLIBC_TUNABLES, for a gateway process about to start (glibc reads it
 * only then). Thresholds the operator set are kept as they are; other libcs ignore the variable.
 */
export function withMallocTuning(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const set = env.GLIBC_TUNABLES ?? '';
  const chosen = (name: string) => set.split(':').some((t) => t.startsWith(`glibc.malloc.${name}=`));
  if (chosen('trim_threshold') || chosen('mmap_threshold')) return env;
  return { ...env, GLIBC_TUNABLES: set ? `${set}:${MALLOC_TUNING}` : MALLOC_TUNING };
}
