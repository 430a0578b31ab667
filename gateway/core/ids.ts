// Identifier helpers: sortable incident ids and short, unambiguous public codes for SMS links.
import { randomBytes } from 'node:crypto';

const CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';

/** Time-ordered id: base36 millis + random suffix, e.g. `inc-lmx3k2a9-4f2k`. */
export function newId(prefix: string, now: number): string {
  return `${prefix}-${now.toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** A short code without look-alike characters (no 0/O, 1/I/L), for URLs typed or tapped on a phone. */
export function newCode(length = 8): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += CODE_ALPHABET[b % CODE_ALPHABET.length];
  return out;
}
