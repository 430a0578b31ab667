// The throttling unit of a client address: IPv4 as is, IPv4-mapped IPv6 unwrapped, IPv6 cut to its /64.
import { describe, expect, it } from 'vitest';
import { addressBlock } from '../../gateway/core/address.js';

describe('addressBlock', () => {
  it('keeps IPv4 and unwraps IPv4-mapped IPv6', () => {
    expect(addressBlock('10.0.0.1')).toBe('10.0.0.1');
    expect(addressBlock('::ffff:10.0.0.2')).toBe('10.0.0.2');
  });

  it('gives every address of one IPv6 /64 the same key, whatever its spelling', () => {
    const keys = ['2001:db8:0:1::5', '2001:db8:0:1:aaaa:bbbb:cccc:dddd', '2001:0DB8:0000:0001::', '2001:db8::1:0:0:0:1'].map(addressBlock);
    expect(new Set(keys)).toEqual(new Set(['2001:db8:0:1::/64']));
    expect(addressBlock('2001:db8:0:2::1')).not.toBe(keys[0]);
  });

  it('names a missing address "unknown"', () => {
    expect(addressBlock(null)).toBe('unknown');
    expect(addressBlock('')).toBe('unknown');
  });
});
