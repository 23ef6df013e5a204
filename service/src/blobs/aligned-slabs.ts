/**
 * Page-aligned buffers for direct I/O (O_DIRECT), which needs the memory, the file offset and the length
 * aligned to the device's block. Buffer.allocUnsafe's memory is not aligned; a WebAssembly memory is
 * (it is mapped pages), so slabs are carved out of fixed, never-grown memories: growing would detach them.
 */
export const ALIGN = 4096;
/** A thread job, a disk read and a socket write per 2 MiB: half the wake-ups of 1 MiB, and faster (bench:builds). */
export const SLAB = 2 * 1024 * 1024;
const WASM_PAGE = 64 * 1024;
/** The part of the WebAssembly global used here: the project's type libraries do not declare it. */
declare const WebAssembly: {
  Memory: new (size: { initial: number; maximum: number; shared: boolean }) => {
    buffer: SharedArrayBuffer;
  };
};
/** Slabs per WebAssembly memory: each memory reserves address space, so they come a few at a time. */
const PER_MEMORY = 8;

export const alignDown = (n: number) => n - (n % ALIGN);
export const alignUp = (n: number) => alignDown(n + ALIGN - 1);

/**
 * A bounded pool of 2 MiB aligned slabs. Once the bound is reached, or the runtime refuses another
 * memory, `acquire` answers undefined and the caller falls back to buffered I/O: never a failed request.
 */
export class AlignedSlabs {
  private readonly free: Buffer[] = [];
  private created = 0;

  constructor(private readonly max: number) {}

  acquire(): Buffer | undefined {
    const spare = this.free.pop();
    if (spare) return spare;
    if (this.created >= this.max) return undefined;
    const count = Math.min(PER_MEMORY, this.max - this.created);
    let memory: { buffer: SharedArrayBuffer };
    try {
      const pages = (count * SLAB) / WASM_PAGE;
      // Shared, so a thread can decrypt what a direct read put in a slab where it lies.
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    } catch {
      return undefined;
    }
    this.created += count;
    for (let i = 0; i < count; i++) this.free.push(Buffer.from(memory.buffer, i * SLAB, SLAB));
    return this.free.pop();
  }

  release(slab: Buffer): void {
    this.free.push(slab);
  }
}
