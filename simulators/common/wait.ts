// Waiting in a simulator for a record (a message, a status callback, a push, a call) that is already there or yet to come.

/** What `subscribe` returns: stops the listening it started. */
type Unsubscribe = () => void;

export interface WaitForMatch<T> {
  /** The first matching record already kept, if any: it answers at once. */
  existing: T | undefined;
  /** Starts listening for new or changed records. */
  subscribe: (listener: (value: T) => void) => Unsubscribe;
  predicate: (value: T) => boolean;
  timeoutMs: number;
  /** Names the wait in the timeout error, e.g. "Twilio simulator: no matching message". */
  what: string;
}

/** Resolves with the existing match or the first new record matching; rejects after `timeoutMs` with `what`. */
export function waitForMatch<T>(w: WaitForMatch<T>): Promise<T> {
  if (w.existing !== undefined) return Promise.resolve(w.existing);
  return new Promise((resolve, reject) => {
    const unsubscribe = w.subscribe((value) => {
      if (!w.predicate(value)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(value);
    });
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`${w.what} within ${w.timeoutMs} ms`));
    }, w.timeoutMs);
  });
}

/** A simulator's phone line: it announces a call placed (`call`) and each change to it (`callChanged`). */
export interface CallEvents<C> {
  on(event: 'call' | 'callChanged', listener: (call: C) => void): unknown;
  off(event: 'call' | 'callChanged', listener: (call: C) => void): unknown;
}

/** Resolves with the first call matching `predicate`, already placed or yet to come (or to change into a match). */
export function waitForCall<C>(
  line: CallEvents<C>,
  existing: C | undefined,
  predicate: (call: C) => boolean,
  timeoutMs: number,
  what: string,
): Promise<C> {
  const subscribe = (fn: (call: C) => void): Unsubscribe => {
    line.on('call', fn);
    line.on('callChanged', fn);
    return () => {
      line.off('call', fn);
      line.off('callChanged', fn);
    };
  };
  return waitForMatch({ existing, subscribe, predicate, timeoutMs, what: `${what}: no matching call` });
}
