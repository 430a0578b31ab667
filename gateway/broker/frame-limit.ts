// A cap on MQTT packet size at the socket: aedes buffers a whole packet before any hook sees it, so a huge one is refused from its header.
import type { Socket } from 'node:net';

/**
 * Packets up to this size reach the ingest, which acknowledges and rejects anything above its payload
 * limit of the device protocol; only beyond this does the connection drop, because acknowledging would mean
 * buffering the whole packet first.
 */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/**
 * Watches the bytes aedes reads from `socket` and destroys it as soon as a packet's fixed header
 * announces a remaining length above `maxBytes` (or a malformed length), before the body is buffered.
 * Attach after `aedes.handle(socket)`: aedes reads in paused mode, and a 'data' listener then only
 * observes the chunks it reads instead of switching the stream to flowing mode.
 */
export function limitFrames(
  socket: Socket,
  maxBytes: number,
  onRefused: (announcedBytes: number | null, topic: string | null) => void,
): void {
  // MQTT 3.1.1 §2.2: one type byte, then the remaining length as 1-4 bytes of 7 bits each, then that many bytes.
  let state: 'type' | 'length' | 'body' = 'type';
  let type = 0;
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  let left = 0;

  socket.on('data', (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length) {
      switch (state) {
        case 'type':
          type = chunk.readUInt8(i++) >> 4;
          state = 'length';
          length = 0;
          multiplier = 1;
          lengthBytes = 0;
          break;
        case 'length': {
          const b = chunk.readUInt8(i++);
          length += (b & 0x7f) * multiplier;
          multiplier *= 128;
          lengthBytes++;
          if ((b & 0x80) !== 0) {
            if (lengthBytes === 4) return refuse(null, null);
            break;
          }
          if (length > maxBytes) return refuse(length, type === PUBLISH ? topicAt(chunk, i) : null);
          left = length;
          state = left > 0 ? 'body' : 'type';
          break;
        }
        case 'body': {
          const n = Math.min(left, chunk.length - i);
          i += n;
          left -= n;
          if (left === 0) state = 'type';
          break;
        }
      }
    }
  });

  function refuse(announced: number | null, topic: string | null): void {
    onRefused(announced, topic);
    socket.destroy();
  }
}

const PUBLISH = 3;

/** The topic at the start of a PUBLISH's variable header when this chunk holds it (it usually does), else null. */
function topicAt(chunk: Buffer, at: number): string | null {
  if (chunk.length < at + 2) return null;
  const n = chunk.readUInt16BE(at);
  return chunk.length >= at + 2 + n ? chunk.toString('utf8', at + 2, at + 2 + n) : null;
}
