import { abortError } from './errors.js';

/**
 * Counting semaphore per key (peer + protocol): libp2p refuses a stream beyond
 * `maxOutboundStreams` per connection, so callers beyond it wait their turn instead of failing.
 * Waiting honours the caller's AbortSignal.
 */
export class KeyedSlots {
  private readonly state = new Map<string, { used: number; waiters: Array<() => void> }>();

  constructor(private readonly max: number) {}

  /** Waits for one of `max` slots of `key` (the constructor's bound unless given). */
  async acquire(key: string, signal: AbortSignal, max = this.max): Promise<() => void> {
    let s = this.state.get(key);
    if (s === undefined) {
      s = { used: 0, waiters: [] };
      this.state.set(key, s);
    }
    const entry = s;
    if (entry.used >= max) {
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          const i = entry.waiters.indexOf(wake);
          if (i >= 0) entry.waiters.splice(i, 1);
          reject(abortError(signal, 'request'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        entry.waiters.push(wake);
      });
    } else {
      entry.used++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = entry.waiters.shift();
      // The slot passes straight to the next waiter; `used` only drops when nobody waits.
      if (next !== undefined) next();
      else if (--entry.used === 0) this.state.delete(key);
    };
  }
}

/** Counts what each key holds open, up to a bound. */
export class KeyedCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Takes one for `key`; false when it holds `max` already. */
  enter(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  leave(key: string): void {
    const n = (this.counts.get(key) ?? 0) - 1;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }
}
