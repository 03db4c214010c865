/**
 * Token buckets keyed by peer: `ratePerSecond` tokens a second, bursts up to the same number.
 * Idle full buckets are dropped by `prune()` so the map stays as small as the set of active peers.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `key`; false when none is left. */
  take(key: string): boolean {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.ratePerSecond, at: t };
    b.tokens = Math.min(this.ratePerSecond, b.tokens + ((t - b.at) / 1000) * this.ratePerSecond);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  prune(): void {
    const t = this.now();
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.ratePerSecond >= this.ratePerSecond) this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
