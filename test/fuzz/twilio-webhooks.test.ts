// Fuzzing the Twilio webhooks of a running gateway through fastify inject: signed or not, any form never gets a 5xx, only a valid signature is acted on, and an answered SMS is on disk.
import Database from 'better-sqlite3';
import fc from 'fast-check';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { databaseFile } from '../../gateway/storage/sqlite/store.js';
import { SIM_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { checkProperty, fuzzBudget } from './budget.js';

const SMS_PATH = '/webhooks/twilio/sms';
const STATUS_PATH = '/webhooks/twilio/status';

type Signing = 'valid' | 'none' | 'other_token' | 'other_url' | 'tampered';

/** Text as Twilio may carry it: phone-like, short, long, any script; never a lone surrogate (a form cannot carry one). */
const text = (max: number) =>
  fc.oneof(
    fc.constantFrom(
      '+8613900000001',
      '+8613800000001',
      '1',
      '2',
      '到',
      '走',
      '',
      ' 1 ',
      'delivered',
      'failed',
      'SM0123456789abcdef0123456789abcdef',
    ),
    fc.string({ unit: 'grapheme', maxLength: max }),
    fc.string({ unit: 'grapheme-ascii', minLength: max - 2, maxLength: max + 2 }),
  );

const form = fc
  .record(
    {
      From: text(66),
      Body: fc.oneof(text(20), fc.string({ unit: 'grapheme-ascii', minLength: 4090, maxLength: 4100 })),
      MessageSid: text(66),
      MessageStatus: text(34),
      ErrorCode: text(18),
      To: text(16),
      AccountSid: text(34),
      extra: fc.dictionary(fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,11}$/), text(16), { maxKeys: 3 }),
    },
    { requiredKeys: [] },
  )
  .map(({ extra, ...fields }) => ({ ...extra, ...fields }));

const request = fc.record({
  path: fc.constantFrom(SMS_PATH, STATUS_PATH),
  params: form,
  signing: fc.constantFrom<Signing>('valid', 'valid', 'valid', 'none', 'other_token', 'other_url', 'tampered'),
  contentType: fc.constantFrom(
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=utf-8',
    'application/json',
    'text/plain',
  ),
});

const codePoints = (s: string) => [...s].length;
const fits = (v: string | undefined, min: number, max: number) => v !== undefined && codePoints(v) >= min && codePoints(v) <= max;

/** What the route's schema admits (the same limits as twilio-webhooks.ts, restated). */
function schemaAccepts(path: string, p: Record<string, string>): boolean {
  if (path === SMS_PATH) return fits(p.From, 1, 64) && fits(p.Body, 0, 4096) && (p.MessageSid === undefined || fits(p.MessageSid, 0, 64));
  return fits(p.MessageSid, 1, 64) && fits(p.MessageStatus, 1, 32) && (p.ErrorCode === undefined || fits(p.ErrorCode, 0, 16));
}

describe('Twilio webhooks (fuzz, through a running gateway)', () => {
  let gw: TestGateway;
  let app: FastifyInstance;
  let db: Database.Database;

  beforeAll(async () => {
    gw = await startTestGateway();
    const http = gw.gateway.httpApp;
    if (!http) throw new Error('gateway has no HTTP app');
    app = http;
    db = new Database(databaseFile(gw.dataDir), { readonly: true });
  });
  afterAll(async () => {
    db?.close();
    await gw?.stop();
  });

  const budget = fuzzBudget(300, 15_000);
  it(
    'never answers 5xx; acts only on a valid signature; an answered SMS is recorded before the answer',
    async () => {
      const inboundCount = () => (db.prepare('SELECT count(*) AS n FROM sms_inbound').get() as { n: number }).n;
      const seenSids = new Set<string>();
      const latestInbound = () => db.prepare('SELECT from_phone AS "from", body FROM sms_inbound ORDER BY id DESC LIMIT 1').get();
      await checkProperty(
        'twilio webhooks: refused, rejected or acted on and recorded',
        fc.asyncProperty(request, async ({ path, params, signing, contentType }) => {
          const url = gw.publicUrl + path;
          const signed = signing === 'tampered' ? { ...params, Body: `${params.Body ?? ''}x` } : params;
          const signature =
            signing === 'none'
              ? null
              : twilio.getExpectedTwilioSignature(
                  signing === 'other_token' ? 'not-the-auth-token' : SIM_TOKEN,
                  signing === 'other_url' ? `${url}?x=1` : url,
                  signed,
                );
          const before = inboundCount();
          const res = await app.inject({
            method: 'POST',
            url: path,
            headers: { 'content-type': contentType, ...(signature === null ? {} : { 'x-twilio-signature': signature }) },
            payload: contentType.startsWith('application/json') ? JSON.stringify(params) : new URLSearchParams(params).toString(),
          });
          expect(res.statusCode).toBeLessThan(500);
          if (!contentType.startsWith('application/x-www-form-urlencoded')) {
            expect(res.statusCode).toBe(415);
          } else if (signing !== 'valid') {
            expect(res.statusCode).toBe(403);
          } else if (!schemaAccepts(path, params)) {
            expect(res.statusCode).toBe(400);
          } else {
            expect(res.statusCode).toBe(path === SMS_PATH ? 200 : 204);
          }
          const answered = res.statusCode === 200 && path === SMS_PATH;
          // A MessageSid answered before is a provider retry or a replay: answered again, recorded and acted on once.
          const sid = params.MessageSid;
          const replay = answered && sid !== undefined && sid !== '' && seenSids.has(sid);
          const acted = answered && !replay;
          // Nothing answered without a durable record; nothing recorded that was not answered.
          expect(inboundCount()).toBe(before + (acted ? 1 : 0));
          if (acted) expect(latestInbound()).toEqual({ from: params.From, body: params.Body });
          if (acted && sid) seenSids.add(sid);
        }),
        budget,
      );
    },
    budget.testTimeoutMs,
  );
});
