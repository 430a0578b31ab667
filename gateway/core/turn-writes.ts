// Writes of one turn of the event loop in one system call: a socket corked at its first write of the turn and uncorked once the turn's promise jobs have run.
import type { Writable } from 'node:stream';

const corked = new WeakSet<Writable>();

/**
 * Corks `socket` until the current turn's synchronous code and promise jobs have run (process.nextTick after them), so
 * everything written to it meanwhile leaves in one `writev`, in the order written. Nothing waits for a later turn: a lone
 * write leaves in the same turn. Call it before each write; a socket already corked this way is left as it is.
 * On a busy 2-core host each write to a database's socket is a system call and, as often, a wake-up of the server process
 * reading it: a transaction's statements sent together cost one of each.
 */
export function corkForTurn(socket: Writable): void {
  if (corked.has(socket) || !socket.writable) return;
  corked.add(socket);
  socket.cork();
  process.nextTick(() => {
    corked.delete(socket);
    socket.uncork();
  });
}
