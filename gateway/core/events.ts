// Typed in-process event bus: owners register listeners they can remove on stop, and a failing listener never breaks the others.
import type { Logger } from './logger.js';

export type Listener<A extends unknown[]> = (...args: A) => void | Promise<void>;

interface Registration {
  owner: object;
  fn: Listener<unknown[]>;
}

export class EventBus<M extends { [K in keyof M]: unknown[] }> {
  private readonly listeners = new Map<PropertyKey, Registration[]>();

  constructor(private readonly log: Logger) {}

  on<K extends keyof M>(owner: object, event: K, fn: Listener<M[K]>): void {
    const list = this.listeners.get(event) ?? [];
    list.push({ owner, fn: fn as Listener<unknown[]> });
    this.listeners.set(event, list);
  }

  /** Removes every listener that `owner` registered (called from its stop()). */
  removeAll(owner: object): void {
    for (const [event, list] of this.listeners) {
      this.listeners.set(
        event,
        list.filter((r) => r.owner !== owner),
      );
    }
  }

  emit<K extends keyof M>(event: K, ...args: M[K]): void {
    const list = this.listeners.get(event);
    if (!list) return;
    for (const { owner, fn } of list) {
      try {
        const result = fn(...args);
        if (result instanceof Promise) {
          result.catch((err: unknown) => this.reportFailure(event, owner, err));
        }
      } catch (err) {
        this.reportFailure(event, owner, err);
      }
    }
  }

  listenerCount<K extends keyof M>(event: K): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  private reportFailure(event: PropertyKey, owner: object, err: unknown): void {
    this.log.error({ err, event: String(event), owner: owner.constructor.name }, 'event listener failed');
  }
}
