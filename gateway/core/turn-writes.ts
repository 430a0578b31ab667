// Writes of one turn of the event loop in one system call: a socket corked at its first write and uncorked once the turn's promise jobs have run, or once the loop has polled every socket that was ready.
import type { Writable } from 'node:stream';

const corked = new WeakSet<Writable>();

/**
 * How long a socket stays corked from its first write:
 * - `promises`: until the current callback's synchronous code and promise jobs have run (process.nextTick after them).
 *   What one callback writes leaves together, and nothing waits for anything else: for the alarm path's statements.
 * - `poll`: until the loop has run the callbacks of every socket that was ready together (setImmediate, after the poll
 *   phase). A storm's CONNECTs each arrive in a callback of their own: their commands then leave together too, at the
 *   cost of waiting for the other ready callbacks of that round.
 */
export type CorkSpan = 'promises' | 'poll';

/**
 * Corks `socket` for `span`, so everything written to it meanwhile leaves in one `writev`, in the order written. Call it
 * before each write; a socket already corked this way is left as it is. On a busy 2-core host each write to a
 * database's socket is a system call and, as often, a wake-up of the server process reading it.
 */
export function corkForTurn(socket: Writable, span: CorkSpan = 'promises'): void {
  if (corked.has(socket) || !socket.writable) return;
  corked.add(socket);
  socket.cork();
  const uncork = (): void => {
    corked.delete(socket);
    socket.uncork();
  };
  if (span === 'poll') setImmediate(uncork);
  else process.nextTick(uncork);
}
