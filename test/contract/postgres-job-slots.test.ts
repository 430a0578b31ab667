// PostgreSQL job slots: one run per slot across stores, busy while another holds the job, nothing left behind by a dead node.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/core/clock.js';
import { SlotJobs, type SlotMode, type SlotRun } from '../../gateway/core/jobs.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { openPostgresStore, type PostgresStore } from '../../gateway/storage/postgres/store.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const SLOT_AT = 1_700_000_000_000;

describe('PostgreSQL job slots', () => {
  let fixture: PostgresFixture;
  const open: PostgresStore[] = [];

  beforeAll(async () => {
    fixture = await PostgresFixture.start();
  });
  afterAll(async () => {
    await fixture.stop();
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  /** Two stores on one schema: two nodes, each with its own pool. */
  async function twoNodes(): Promise<{ url: string; a: PostgresStore; b: PostgresStore }> {
    const url = await fixture.freshUrl();
    const a = await openPostgresStore(url);
    const b = await openPostgresStore(url);
    open.push(a, b);
    return { url, a, b };
  }
  const slot = (node: string, mode: SlotMode, job = 'digest'): SlotRun => ({ job, slotAt: SLOT_AT, node, mode, at: SLOT_AT + 1 });

  for (const mode of ['atomic', 'idempotent'] as const) {
    it(`${mode}: runs a slot on one node; the other is told busy while it runs and done after`, async () => {
      const { a, b } = await twoNodes();
      let release: () => void = () => undefined;
      const held = new Promise<void>((r) => (release = r));
      let entered = false;
      const first = a.jobSlots.runSlot(slot('node-a', mode), async () => {
        entered = true;
        await held;
        return 'sent';
      });
      await waitFor('node A inside the slot', () => entered);
      expect(await b.jobSlots.runSlot(slot('node-b', mode), () => Promise.resolve('twice'))).toEqual({ ran: false, why: 'busy' });
      release();
      expect(await first).toEqual({ ran: true, value: 'sent' });
      expect(await b.jobSlots.runSlot(slot('node-b', mode), () => Promise.resolve('twice'))).toEqual({ ran: false, why: 'done' });
      expect(await a.jobSlots.get('digest', SLOT_AT)).toEqual({ job: 'digest', slotAt: SLOT_AT, node: 'node-a', ranAt: SLOT_AT + 1 });
      // Another slot of the job, or another job, is free.
      expect(await b.jobSlots.runSlot({ ...slot('node-b', mode), slotAt: SLOT_AT + 60_000 }, () => Promise.resolve(1))).toEqual({
        ran: true,
        value: 1,
      });
      expect(await b.jobSlots.runSlot(slot('node-b', mode, 'reminders'), () => Promise.resolve(2))).toEqual({ ran: true, value: 2 });
    });
  }

  it('atomic: a slot whose work fails leaves neither its writes nor its record, and runs again', async () => {
    const { a, b } = await twoNodes();
    const failing = a.jobSlots.runSlot(slot('node-a', 'atomic'), async () => {
      await a.supervision.claimDigestRun('digest:w-01', SLOT_AT);
      throw new Error('node stopped mid-slot');
    });
    await expect(failing).rejects.toThrow('node stopped mid-slot');
    expect(await a.supervision.hasDigestRun('digest:w-01')).toBe(false);
    expect(await a.jobSlots.get('digest', SLOT_AT)).toBeNull();
    const again = await b.jobSlots.runSlot(slot('node-b', 'atomic'), () => b.supervision.claimDigestRun('digest:w-01', SLOT_AT));
    expect(again).toEqual({ ran: true, value: true });
  });

  it('a node whose session dies while it holds a job frees it: the slot runs on the other node', async () => {
    const { url, b } = await twoNodes();
    // A node frozen inside the job: its session holds the lock the slot runner takes.
    const dead = new pg.Client({ connectionString: url });
    await dead.connect();
    dead.on('error', () => undefined);
    await dead.query('SELECT pg_advisory_lock($1, hashtext($2))', [0x534c_4f54, 'digest']);
    const pid = (await dead.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    expect(await b.jobSlots.runSlot(slot('node-b', 'atomic'), () => Promise.resolve(1))).toEqual({ ran: false, why: 'busy' });
    expect(await b.jobSlots.runSlot(slot('node-b', 'idempotent'), () => Promise.resolve(1))).toEqual({ ran: false, why: 'busy' });
    await b.database.query('SELECT pg_terminate_backend($1)', [pid ?? 0]);
    await waitFor(
      'the lock gone with its session',
      async () => (await b.jobSlots.runSlot(slot('node-b', 'atomic'), () => Promise.resolve(7))).ran,
    );
    expect(await b.jobSlots.get('digest', SLOT_AT)).toMatchObject({ node: 'node-b' });
    await dead.end().catch(() => undefined);
  });

  it('retries a slot another node was busy with, and runs it once that node let go without recording it', async () => {
    const { a, b } = await twoNodes();
    const clock = new ManualClock(SLOT_AT);
    const jobs = new SlotJobs({ store: b.jobSlots, node: 'node-b', clock, log: silentLogger() });
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let entered = false;
    const dying = a.jobSlots.runSlot(slot('node-a', 'atomic'), async () => {
      entered = true;
      await held;
      throw new Error('node A died');
    });
    await waitFor('node A inside the slot', () => entered);
    let runs = 0;
    const work = () => Promise.resolve(++runs);
    expect(await jobs.run('digest', SLOT_AT, work, { retryBusyMs: 60_000 })).toEqual({ ran: false, why: 'busy' });
    release();
    await expect(dying).rejects.toThrow('node A died');
    clock.advance(60_000);
    await waitFor('the retry ran the slot', async () => (await b.jobSlots.get('digest', SLOT_AT))?.node === 'node-b');
    expect(runs).toBe(1);
    jobs.stop();
  });
});
