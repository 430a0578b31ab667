// Redis commands sent in one turn of the event loop leave in one socket write: a reconnect storm's CONNECTs each send several commands, and one write per command cost a system call each.
import type { Redis } from 'ioredis';

type SendCommand = Redis['sendCommand'];

/**
 * From the first command of a turn on, the connection's socket is corked; it is uncorked once the turn's synchronous
 * code and its promise jobs have run (process.nextTick after them), so everything written meanwhile goes out in one
 * `writev`, in the order it was written. Nothing waits for a later turn: a lone command leaves in the same turn.
 * Only a connection that is ready is corked; while ioredis queues commands offline it writes them itself on reconnect.
 */
export function coalesceWrites(redis: Redis): void {
  const send: SendCommand = redis.sendCommand.bind(redis);
  let corked = false;
  const coalesced: SendCommand = (command, stream) => {
    const socket = redis.stream;
    if (!corked && redis.status === 'ready' && socket.writable) {
      corked = true;
      socket.cork();
      process.nextTick(() => {
        corked = false;
        socket.uncork();
      });
    }
    return send(command, stream);
  };
  redis.sendCommand = coalesced;
}
