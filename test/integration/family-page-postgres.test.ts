// On PostgreSQL the responder's first page commits in a short transaction of its own; the family's follows, and a node gone between the two loses no family page.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import type { PgCommitTiming } from '../../gateway/storage/postgres/database.js';
import { PostgresStore } from '../../gateway/storage/postgres/store.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { passSeconds, postgresNodes } from '../helpers/cluster-nodes.js';
import { connectDevice } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

const W1 = '+8613900000001';
const SON = '+8613800000001';
const DAUGHTER = '+8613800000002';
/** The family's step-1 rows: each member's page and link. */
const FAMILY_ROWS = [
  [DAUGHTER, 'page'],
  [DAUGHTER, 'page_link'],
  [SON, 'page'],
  [SON, 'page_link'],
].sort();

describe('the first page on PostgreSQL', () => {
  const cluster = postgresNodes();

  const rowsOf = async (store: PostgresStore) =>
    store.database.query<{ to_phone: string; role: string; purpose: string }>(
      'SELECT to_phone, role, purpose FROM sms_messages ORDER BY row_no',
    );

  it('commits the worker page in a transaction of its own, in fewer round trips, and the family pages after it', async () => {
    const log = await cluster.postgres.server.logStatements();
    const logFile = log.file;
    const commits: PgCommitTiming[] = [];
    try {
      const url = await cluster.postgres.freshUrl();
      const store = await cluster.withSms(async (sms) => {
        const g = await cluster.start(url, 'node-a', { clock: new ManualClock(shanghaiLast(4, 10)), sms });
        if (!(g.gateway.store instanceof PostgresStore)) throw new Error('the node does not run on PostgreSQL');
        g.gateway.store.database.observeCommits((c) => commits.push(c));
        // An everyday event first, acted on alone: its transaction pages nobody, so its commit is not synced.
        const button = await connectDevice(g.mqttUrl, 'btn-001', 's3cret-btn-001');
        cluster.clients.push(button);
        await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'heartbeat', seq: 1 }), { qos: 1 });
        const observer = await cluster.observe(url);
        await waitFor('the heartbeat acted on', async () => (await observer.events.listUnprocessed()).length === 0);
        await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 2 }), { qos: 1 });
        await sms.waitForMessage((m) => m.to === SON && m.body.includes('回1'));
        await sms.waitForMessage((m) => m.to === DAUGHTER && m.body.includes('回1'));
        return observer;
      });
      // The transaction that created the incident, statement by statement, as the server received them.
      const lines = readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((line) => /^\[\d+\] LOG: {2}(statement|execute [^:]*): /.test(line));
      const created = lines.findIndex((line) => line.includes('INSERT INTO incidents'));
      expect(created).toBeGreaterThan(-1);
      // The alarm path's statements are prepared once per connection (named), not parsed at each execution.
      expect(lines[created]).toMatch(/ LOG: {2}execute care_incidents_insert: /);
      // The merged writes too: the step's UPDATE with the three audit entries, and the two timers.
      expect(lines.some((line) => / LOG: {2}execute care_audit_insert_with_update: WITH updated AS/.test(line))).toBe(true);
      expect(lines.some((line) => / LOG: {2}execute care_timers_schedule_all: INSERT INTO timers/.test(line))).toBe(true);
      const pid = /^\[(\d+)\]/.exec(lines[created]!)![1];
      const text = (i: number): string => lines[i]!.replace(/^\[\d+\] LOG: {2}(statement|execute [^:]*): /, '');
      const session = lines.flatMap((line, i) => (line.startsWith(`[${pid}] `) ? [i] : []));
      const at = session.indexOf(created);
      const begin =
        session[
          session
            .slice(0, at)
            .map(text)
            .findLastIndex((st) => st.startsWith('BEGIN; SET LOCAL'))
        ]!;
      // It pages, and PostgreSQL may crash under the node: synced before any page leaves.
      expect(text(begin)).toBe('BEGIN; SET LOCAL synchronous_commit = on; SET LOCAL statement_timeout = 4000');
      const commit = session.slice(at).find((i) => text(i) === 'COMMIT')!;
      const transaction = session.filter((i) => i >= begin && i <= commit).map(text);
      // The worker's page and its link, nothing of the family's; the whole transaction in at most this many round trips
      // (22 before the duplicate check became one statement; 21 before the `created`, `opened` and `paged` entries became
      // one insert riding with the incident's UPDATE, the step's timers one insert, and the fresh incident's step-1 claim
      // was left out).
      expect(transaction.filter((st) => st.startsWith('INSERT INTO sms_messages'))).toHaveLength(2);
      expect(transaction.filter((st) => st.startsWith('WITH updated AS (UPDATE incidents'))).toHaveLength(1);
      expect(transaction.filter((st) => /^(INSERT INTO audit_log|UPDATE incidents)/.test(st))).toHaveLength(0);
      expect(transaction.filter((st) => st.startsWith('UPDATE timers'))).toHaveLength(0);
      expect(transaction.length).toBeLessThanOrEqual(16);
      // The step's timers are announced to the other nodes after the COMMIT (postgres-shared-work.test.ts): a NOTIFY inside
      // it would hold the server's lock ordering every notifying commit through its WAL flush.
      expect(transaction.filter((st) => st.includes('pg_notify'))).toEqual([]);
      // Of those the node waited for 5 round trips in turn (16 before): BEGIN, the incident, its signal link, the two SMS
      // rows, the timers and the event's mark travel with the next statement waited for (15 without), the active
      // incident and the resident are asked at once (9 without), and with the check of the taken events (8 without),
      // the link code is issued beside the reply-code look-up (7 without), and the step's UPDATE with its audit entries
      // is read only after the COMMIT, for their ids (6 without). Warm caches (no resident or community read): 3.
      const opening = commits.filter((c) => c.durability === 'full' && c.statements === transaction.length);
      expect(opening).toHaveLength(1);
      expect(opening[0]!.waits).toBeLessThanOrEqual(5);
      // The family's four rows (a page and a link each) reach the server only after that commit.
      const smsInserts = lines.flatMap((_, i) => (i >= begin && text(i).startsWith('INSERT INTO sms_messages') ? [i] : []));
      expect(smsInserts).toHaveLength(6);
      expect(smsInserts.filter((i) => i > commit)).toHaveLength(4);

      // The heartbeat's transaction: the one that marked it processed, before the incident's.
      const everyday = lines.findIndex((line, i) => i < begin && text(i).startsWith('UPDATE events SET processed'));
      expect(everyday).toBeGreaterThan(-1);
      const heartbeatPid = /^\[(\d+)\]/.exec(lines[everyday]!)![1];
      const heartbeatBegin = lines
        .flatMap((line, i) => (i < everyday && line.startsWith(`[${heartbeatPid}] `) ? [text(i)] : []))
        .findLast((st) => st.startsWith('BEGIN; SET LOCAL'));
      expect(heartbeatBegin).toBe('BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL statement_timeout = 4000');

      const family = (await rowsOf(store)).filter((r) => r.role === 'family');
      expect(family.map((r) => [r.to_phone, r.purpose]).sort()).toEqual(FAMILY_ROWS);
      // The trail in the order it happened, though its first three entries were one insert.
      const [incident] = await store.incidents.list({ limit: 10 });
      expect((await store.incidents.listAudit(incident!.id)).map((e) => e.action)).toEqual(['created', 'opened', 'paged', 'family_paged']);
    } finally {
      await log.reset();
    }
  });

  it('pages the family once from the other node when the node that opened the incident is gone before paging them', async () => {
    const url = await cluster.postgres.freshUrl();
    const clock = new ManualClock(shanghaiLast(4, 10));
    await cluster.withSms(async (sms) => {
      const a = await cluster.start(url, 'node-a', { clock, sms });
      await cluster.start(url, 'node-b', { clock, sms });
      const store = await cluster.observe(url);
      // Node a commits the first page and never gets to the family's (as if it died right after that commit).
      a.gateway.timers.fireNow = () => Promise.resolve();
      await cluster.pressSos(a.mqttUrl, 1);
      await sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
      expect((await rowsOf(store)).filter((r) => r.role === 'family')).toEqual([]);
      await cluster.lose(a);
      // Node b reads the shared timers every second: the family's timer is due, and it pages them.
      await passSeconds(clock, 3, 50);
      await sms.waitForMessage((m) => m.to === SON && m.body.includes('回1'));
      await sms.waitForMessage((m) => m.to === DAUGHTER && m.body.includes('回1'));
      await passSeconds(clock, 3, 50);
      const family = (await rowsOf(store)).filter((r) => r.role === 'family');
      expect(family.map((r) => [r.to_phone, r.purpose]).sort()).toEqual(FAMILY_ROWS);
      expect(sms.messages().filter((m) => m.to === SON && m.body.includes('回1'))).toHaveLength(1);
    });
  });
});
