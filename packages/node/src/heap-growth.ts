import { setFlagsFromString } from 'node:v8';

/** Old-generation growth past the live size before a full GC, while the node is not busy: 1.5×. */
const CAPPED_GROWTH_PERCENT = 50;

/**
 * How far V8 lets a node's heap grow between full GCs (ADR 0008, seventh round). Most of the
 * heap is block-lifetime data that outlives a scavenge and dies soon after. At 1,000 tx/s V8 let
 * the old generation reach ~2.5× its live size; capping the growth at 1.5× took the peak RSS per
 * node from 236–335 to 195–244 MB for no measurable CPU. Under heavy load (a filling mempool,
 * block sync) the cap cost 7–25% of throughput in more frequent full GCs, so a busy node leaves
 * the choice to V8. V8 reads the flag when it next sizes the heap, after a full GC. The flag is
 * process-wide: one node per process, as `medledger start` runs it.
 */
export class HeapGrowthPolicy {
  #capped: boolean | undefined;

  constructor(private readonly setFlags: (flags: string) => void = setFlagsFromString) {}

  update(busy: boolean): void {
    const capped = !busy;
    if (capped === this.#capped) return;
    this.#capped = capped;
    // 0 is V8's default: a factor it derives from its GC and allocation speeds.
    this.setFlags(`--heap-growing-percent=${capped ? CAPPED_GROWTH_PERCENT : 0}`);
  }
}
