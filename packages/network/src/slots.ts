import { abortError } from './errors.js';

/**
 * Counting semaphore per key (peer + protocol): libp2p refuses a stream beyond
 * `maxOutboundStreams` per connection, so callers beyond it wait their turn instead of failing.
 * Waiting honours the caller's AbortSignal.
 */
export class KeyedSlots {
  private readonly state = new Map<string, { used: number; waiters: Array<() => void> }>();

  constructor(private readonly max: number) {}

  async acquire(key: string, signal: AbortSignal): Promise<() => void> {
    let s = this.state.get(key);
    if (s === undefined) {
      s = { used: 0, waiters: [] };
      this.state.set(key, s);
    }
    const entry = s;
    if (entry.used >= this.max) {
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
