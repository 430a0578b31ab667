// InOrderAcks on its own: PUBACKs released in arrival order as records settle, QoS 0 messages holding their place, nothing after a failure or a stop.
import { describe, expect, it } from 'vitest';
import { InOrderAcks } from '../../gateway/bridges/in-order-acks.js';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  let reject: (err: Error) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every settled record's handlers run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('InOrderAcks', () => {
  it('releases a recorded message only when every earlier one is recorded; a QoS 0 message keeps its place but gets no PUBACK', async () => {
    const sent: number[] = [];
    const acks = new InOrderAcks({ send: (id) => sent.push(id) });
    const [a, b, c, d] = [deferred(), deferred(), deferred(), deferred()];
    acks.track(10, a.promise);
    acks.track(undefined, b.promise);
    acks.track(11, c.promise);
    acks.track(12, d.promise);
    d.resolve();
    c.resolve();
    await settle();
    expect(sent).toEqual([]);
    a.resolve();
    await settle();
    expect(sent).toEqual([10]);
    expect(acks.waiting).toBe(3);
    b.resolve();
    await settle();
    expect(sent).toEqual([10, 11, 12]);
    expect(acks.waiting).toBe(0);
  });

  it('a failed record stops the line: neither it nor anything after it is acknowledged, also later arrivals', async () => {
    const sent: number[] = [];
    const acks = new InOrderAcks({ send: (id) => sent.push(id) });
    const [a, b, c] = [deferred(), deferred(), deferred()];
    acks.track(1, a.promise);
    acks.track(undefined, b.promise);
    acks.track(3, c.promise);
    c.resolve();
    b.reject(new Error('disk full'));
    await settle();
    expect(sent).toEqual([]);
    a.resolve();
    await settle();
    expect(sent).toEqual([1]);
    acks.track(4, Promise.resolve());
    await settle();
    expect(sent).toEqual([1]);
    expect(acks.waiting).toBe(0);
  });

  it('after stop() (the connection closed) nothing more goes out', async () => {
    const sent: number[] = [];
    const acks = new InOrderAcks({ send: (id) => sent.push(id) });
    const a = deferred();
    acks.track(7, a.promise);
    acks.stop();
    a.resolve();
    await settle();
    expect(sent).toEqual([]);
  });
});
