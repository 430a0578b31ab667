// The unit a client address is throttled by: an IPv4 address, or an IPv6 /64 (one home or one machine usually owns a whole /64).
import { isIPv6 } from 'node:net';

/** The throttling key of a remote address: IPv4 and names as given, IPv6 cut to its /64 so rotating addresses gains nothing. */
export function addressBlock(address: string | null): string {
  if (address === null || address === '') return 'unknown';
  const plain = address.startsWith('::ffff:') && !address.slice(7).includes(':') ? address.slice(7) : address;
  if (!isIPv6(plain)) return plain;
  const [head = '', tail = ''] = plain.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = plain.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
