// Signed incident-page links: round trip, every field tampered, the expiry boundary, and the secret file in DATA_DIR.
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/core/errors.js';
import { LINK_SECRET_BYTES, LinkSigner, loadOrCreateLinkSecret } from '../../gateway/http/links.js';
import { tempDir } from '../helpers/tmp.js';

const SECRET = Buffer.alloc(32, 7);
const NOW = Date.UTC(2026, 10, 26, 2, 0, 0);
const EXP = NOW + 24 * 3600_000;

const signer = () => new LinkSigner(SECRET);
const params = (query: string) => new URLSearchParams(query);
const withParam = (query: string, key: string, value: string) => {
  const q = params(query);
  q.set(key, value);
  return q;
};

describe('LinkSigner', () => {
  it('signs a short query that verifies for the same code and person', () => {
    const query = signer().sign('K7Q2M9XA', 'w-01', 'worker', EXP);
    expect(query).toMatch(/^p=w-01&r=worker&e=[0-9a-z]+&s=[A-Za-z0-9_-]{22}$/);
    expect(query.length).toBeLessThan(60);
    expect(signer().verify('K7Q2M9XA', params(query), NOW)).toEqual({ personId: 'w-01', role: 'worker' });
    // fastify hands the route a plain object; that works the same way.
    expect(signer().verify('K7Q2M9XA', Object.fromEntries(params(query)), NOW)).toEqual({ personId: 'w-01', role: 'worker' });
    expect(signer().check('K7Q2M9XA', params(query), NOW)).toMatchObject({ ok: true, query });
  });

  it('refuses a link for another code, or with any field changed', () => {
    const query = signer().sign('K7Q2M9XA', 'w-01', 'worker', EXP);
    const s = params(query).get('s') ?? '';
    const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    expect(signer().check('K7Q2M9XB', params(query), NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(signer().check('K7Q2M9XA', withParam(query, 'p', 'w-02'), NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(signer().check('K7Q2M9XA', withParam(query, 'r', 'duty_contact'), NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(signer().check('K7Q2M9XA', withParam(query, 'e', (EXP / 1000 + 3600).toString(36)), NOW)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(signer().check('K7Q2M9XA', withParam(query, 's', flipped), NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    // Another secret (another gateway, or a new link-secret file) signs different links.
    expect(new LinkSigner(Buffer.alloc(32, 8)).verify('K7Q2M9XA', params(query), NOW)).toBeNull();
  });

  it('refuses missing, repeated or malformed fields', () => {
    const query = signer().sign('K7Q2M9XA', 'w-01', 'worker', EXP);
    expect(signer().check('K7Q2M9XA', params(''), NOW)).toEqual({ ok: false, reason: 'missing' });
    for (const key of ['p', 'r', 'e', 's']) {
      const q = params(query);
      q.delete(key);
      expect(signer().check('K7Q2M9XA', q, NOW)).toEqual({ ok: false, reason: 'malformed' });
      const twice = params(query);
      twice.append(key, params(query).get(key) ?? '');
      expect(signer().verify('K7Q2M9XA', twice, NOW)).toBeNull();
    }
    const s = params(query).get('s') ?? '';
    expect(signer().check('K7Q2M9XA', withParam(query, 's', s.slice(0, -1)), NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(signer().check('K7Q2M9XA', withParam(query, 'e', 'ZZ'), NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(signer().verify('K7Q2M9XA', { p: ['w-01'], r: 'worker', e: 'x', s }, NOW)).toBeNull();
  });

  it('works until the second before expiry and not from the expiry on', () => {
    const query = signer().sign('K7Q2M9XA', 'w-01', 'worker', EXP);
    expect(signer().verify('K7Q2M9XA', params(query), EXP - 1)).not.toBeNull();
    expect(signer().check('K7Q2M9XA', params(query), EXP)).toEqual({ ok: false, reason: 'expired' });
    expect(signer().check('K7Q2M9XA', params(query), EXP + 3600_000)).toEqual({ ok: false, reason: 'expired' });
    // A sub-second expiry is rounded down: the link never outlives what was asked.
    const odd = signer().sign('K7Q2M9XA', 'w-01', 'worker', EXP + 999);
    expect(signer().verify('K7Q2M9XA', params(odd), EXP)).toBeNull();
  });

  it('refuses to sign a field that would make the signed text ambiguous', () => {
    expect(() => signer().sign('K7Q2', 'w|01', 'worker', EXP)).toThrow(GatewayError);
    expect(() => signer().sign('K7Q2', 'w-01', '', EXP)).toThrow(GatewayError);
    expect(() => signer().sign('K7 Q2', 'w-01', 'worker', EXP)).toThrow(GatewayError);
  });
});

describe('loadOrCreateLinkSecret', () => {
  const dirs: { remove: () => void }[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove();
  });
  const dir = () => {
    const d = tempDir('care-gw-links-');
    dirs.push(d);
    return d.path;
  };

  it('creates 32 random bytes with mode 0600 on first start and reuses them after', () => {
    const data = join(dir(), 'data');
    const first = loadOrCreateLinkSecret(data);
    expect(first).toHaveLength(LINK_SECRET_BYTES);
    expect(statSync(join(data, 'link-secret')).mode & 0o777).toBe(0o600);
    expect(loadOrCreateLinkSecret(data).equals(first)).toBe(true);
    // A link signed before a restart still verifies after it.
    const query = new LinkSigner(first).sign('K7Q2', 'w-01', 'worker', EXP);
    expect(new LinkSigner(loadOrCreateLinkSecret(data)).verify('K7Q2', params(query), NOW)).not.toBeNull();
    // Each data dir has its own secret.
    expect(loadOrCreateLinkSecret(dir()).equals(first)).toBe(false);
  });

  it('refuses a link-secret file of the wrong length instead of silently replacing it', () => {
    const data = dir();
    writeFileSync(join(data, 'link-secret'), 'short');
    expect(() => loadOrCreateLinkSecret(data)).toThrow(/exactly 32 bytes/);
  });
});
