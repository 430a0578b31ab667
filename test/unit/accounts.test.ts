// Account building blocks: the sliding-window limiter, redaction for the audit log, password policy and hashes, ADMIN_* config.
import { describe, expect, it } from 'vitest';
import { checkPasswordPolicy, hashPassword, verifyPassword } from '../../gateway/accounts/passwords.js';
import { SlidingWindowLimiter, longestWait } from '../../gateway/accounts/rate-limit.js';
import { maskPhone, redactUnknownUsername } from '../../gateway/accounts/redact.js';
import { phoneCandidates } from '../../gateway/accounts/otp.js';
import { loadConfig } from '../../gateway/config/load.js';
import { ManualClock } from '../../gateway/core/clock.js';

describe('SlidingWindowLimiter', () => {
  it('refuses the key once max events fall in the window, and frees it as they slide out', () => {
    const clock = new ManualClock(0);
    const limiter = new SlidingWindowLimiter({ clock, rule: { max: 3, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterSeconds('user:a')).toBe(0);
      limiter.record('user:a');
      clock.advance(10_000);
    }
    // Events at 0, 10 s, 20 s; now 30 s: the first leaves the window at 60 s.
    expect(limiter.retryAfterSeconds('user:a')).toBe(30);
    expect(limiter.retryAfterSeconds('user:b')).toBe(0);
    clock.advance(30_000);
    expect(limiter.retryAfterSeconds('user:a')).toBe(0);
    limiter.record('user:a');
    expect(limiter.retryAfterSeconds('user:a')).toBe(10);
    limiter.reset('user:a');
    expect(limiter.retryAfterSeconds('user:a')).toBe(0);
    const other = new SlidingWindowLimiter({ clock, rule: { max: 1, windowMs: 5_000 } });
    other.record('ip:x');
    expect(
      longestWait([
        [limiter, 'user:a'],
        [other, 'ip:x'],
      ]),
    ).toBe(5);
  });

  it('forgets the oldest keys beyond maxKeys, so made-up names cannot fill memory', () => {
    const clock = new ManualClock(0);
    const limiter = new SlidingWindowLimiter({ clock, rule: { max: 1, windowMs: 60_000 }, maxKeys: 2 });
    for (const key of ['a', 'b', 'c']) limiter.record(key);
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    expect(limiter.retryAfterSeconds('c')).toBe(60);
  });
});

describe('audit redaction and phones', () => {
  it('keeps the start and the last four digits of a phone', () => {
    expect(maskPhone('+8613900000001')).toBe('+86139****0001');
    expect(maskPhone('12345')).toBe('****');
  });

  it('keeps only the first character and length of an unknown username', () => {
    expect(redactUnknownUsername('hunter2hunter2')).toBe('h…(14 chars, unknown)');
  });

  it('tries a mainland mobile typed without +86 with it too', () => {
    expect(phoneCandidates('139 0000-0001')).toEqual(['13900000001', '+8613900000001']);
    expect(phoneCandidates('+8613900000001')).toEqual(['+8613900000001']);
  });
});

describe('passwords', () => {
  it('needs at least 10 characters (counted as characters, not bytes)', () => {
    expect(() => checkPasswordPolicy('short')).toThrow('at least 10 characters');
    expect(() => checkPasswordPolicy('安全的密码九个字')).toThrow('at least 10 characters');
    expect(() => checkPasswordPolicy('安全的密码要十个字啊')).not.toThrow();
  });

  it('hashes with scrypt and a per-user salt, and verifies only the right password', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('anything', 'not-a-hash')).toBe(false);
    expect(await verifyPassword('anything', 'scrypt$1024$8$1$c2FsdA==$')).toBe(false);
  });
});

describe('ADMIN_USERNAME / ADMIN_PASSWORD', () => {
  it('are optional, go together, and the password needs 10 characters; the error never shows it', () => {
    expect(loadConfig({}).admin).toBeNull();
    expect(loadConfig({ ADMIN_USERNAME: 'chief', ADMIN_PASSWORD: 'long enough pw' }).admin).toEqual({
      username: 'chief',
      password: 'long enough pw',
    });
    expect(() => loadConfig({ ADMIN_USERNAME: 'chief', ADMIN_PASSWORD: 'short' })).toThrow(
      'ADMIN_PASSWORD: expected at least 10 characters (got "[redacted]")',
    );
    expect(() => loadConfig({ ADMIN_USERNAME: 'chief' })).toThrow(/^ADMIN_PASSWORD: ADMIN_USERNAME and ADMIN_PASSWORD go together/);
    expect(() => loadConfig({ ADMIN_PASSWORD: 'long enough pw' })).toThrow(/^ADMIN_USERNAME: /);
    expect(() => loadConfig({ ADMIN_USERNAME: 'a b', ADMIN_PASSWORD: 'long enough pw' })).toThrow(/^ADMIN_USERNAME: expected 3-64/);
  });
});
