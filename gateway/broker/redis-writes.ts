// How a cluster node sends its Redis commands: those of one round of the event loop in one socket write, and none whose failure nobody awaits left to end the process.
import type { Redis } from 'ioredis';
import { corkForTurn } from '../core/turn-writes.js';

type SendCommand = Redis['sendCommand'];

/**
 * From the first command on, the connection's socket is corked until the loop has run every callback that was ready with
 * it (corkForTurn, `poll`), so everything written meanwhile goes out in one `writev`, in order: a reconnect storm's
 * CONNECTs each send several commands from callbacks of their own, and one write per command, or per CONNECT, cost a
 * system call each (and a read on the Redis side). No alarm waits on Redis. Only a connection that is ready is corked;
 * while ioredis queues commands offline it writes them itself on reconnect.
 */
export function coalesceWrites(redis: Redis): void {
  const send: SendCommand = redis.sendCommand.bind(redis);
  const coalesced: SendCommand = (command, stream) => {
    if (redis.status === 'ready') corkForTurn(redis.stream, 'poll');
    return send(command, stream);
  };
  redis.sendCommand = coalesced;
}

/**
 * aedes-persistence-redis fires some commands without awaiting them (an `LREM` after a will is taken, or after a stored
 * packet was found gone). When the connection closes with one queued, its rejection was unhandled, and the fatal-exit
 * policy (gateway/fatal.ts) ended the node: a Redis restart could take a node down. Each command's promise is marked
 * handled here; a caller that awaits it still gets the failure, and the connection's loss is reported on its own.
 */
export function handleUnawaitedFailures(redis: Redis): void {
  const send: SendCommand = redis.sendCommand.bind(redis);
  const handled: SendCommand = (command, stream) => {
    const result = send(command, stream);
    if (result instanceof Promise) result.catch(() => undefined);
    return result;
  };
  redis.sendCommand = handled;
}
