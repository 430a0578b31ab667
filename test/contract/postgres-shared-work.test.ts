// Work several nodes share through one PostgreSQL: timers each fired once (SKIP LOCKED, notices, polls), SMS leases taken over from a dead node.
import pgDriver from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, systemClock, type Clock } from '../../gateway/core/clock.js';
import { EventBus } from '../../gateway/core/events.js';
import { createLogger, silentLogger } from '../../gateway/core/logger.js';
import { DurableTimers } from '../../gateway/escalation/timers.js';
import { SmsDispatcher, type NotifierEvents } from '../../gateway/notifiers/dispatcher.js';
import type { PostgresStoreOptions as PgStoreOptions } from '../../gateway/storage/postgres/store.js';
import { openPostgresStore, type PostgresStore } from '../../gateway/storage/postgres/store.js';
import type { DurableTimer } from '../../gateway/storage/ports.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { pageSms, simTwilioProvider } from '../helpers/sms.js';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { waitFor } from '../helpers/wait.js';
import { sms, T0, voiceCall } from './fixtures.js';

let pg: PostgresFixture | null = null;
const opened: PostgresStore[] = [];
const running: DurableTimers[] = [];

beforeAll(async () => {
  pg = await PostgresFixture.start();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await pg?.stop();
});

async function open(url: string, options: PgStoreOptions = {}): Promise<PostgresStore> {
  if (!pg) throw new Error('PostgreSQL did not start');
  const store = await openPostgresStore(url, options);
  opened.push(store);
  return store;
}

function step(key: string, dueAt: number): DurableTimer {
  return { key, kind: 'escalation_step', incidentId: key.split(':')[0] ?? key, dueAt, payload: {} };
}

/** A node's durable timers in shared mode, whose handler writes one audit row per run (what "fired" means here). */
async function timersOn(store: PostgresStore, runs: string[], onRun?: (timer: DurableTimer) => Promise<void>): Promise<DurableTimers> {
  const timers = new DurableTimers({
    store,
    clock: systemClock,
    log: silentLogger(),
    retryMs: 100,
    shared: { pollMs: 100, changes: store.timerChanges() },
  });
  timers.setHandler(async (timer) => {
    await onRun?.(timer);
    await store.incidents.appendAudit({
      incidentId: timer.incidentId,
      at: T0,
      action: 'step_fired',
      actor: 'system',
      channel: 'system',
      detail: { key: timer.key },
    });
    return [() => runs.push(timer.key)];
  });
  running.push(timers);
  await timers.start();
  return timers;
}

/** Two nodes' stores on a fresh database, each running shared-mode timers that note the keys they ran. */
async function twoTimerNodes(): Promise<{
  a: PostgresStore;
  b: PostgresStore;
  nodeA: DurableTimers;
  nodeB: DurableTimers;
  runsA: string[];
  runsB: string[];
}> {
  const url = await (pg as PostgresFixture).freshUrl();
  const a = await open(url);
  const b = await open(url);
  const runsA: string[] = [];
  const runsB: string[] = [];
  return { a, b, nodeA: await timersOn(a, runsA), nodeB: await timersOn(b, runsB), runsA, runsB };
}

async function firedRows(store: PostgresStore): Promise<Map<string, number>> {
  const rows = await store.database.query<{ key: string; n: number }>(
    "SELECT detail::jsonb ->> 'key' AS key, count(*)::int AS n FROM audit_log WHERE action = 'step_fired' GROUP BY 1",
  );
  return new Map(rows.map((r) => [r.key, r.n]));
}

describe('PostgreSQL: a due timer claimed by one node at a time', () => {
  it('passes over a timer another transaction is claiming, and takes it once that transaction rolls back', async () => {
    const url = await (pg as PostgresFixture).freshUrl();
    const a = await open(url);
    const b = await open(url);
    await a.timers.schedule(step('inc-1:step:2', T0));
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding = (): void => undefined;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const rolledBack = a.transaction(async () => {
      expect(await a.timers.claimDue('inc-1:step:2', T0)).toBe(true);
      holding();
      await released;
      throw new Error('the step failed');
    });
    await held;
    // Not queued behind the lock: answered at once, while the other transaction still holds the row.
    expect(await b.timers.claimDue('inc-1:step:2', T0)).toBe(false);
    release();
    await expect(rolledBack).rejects.toThrow('the step failed');
    expect(await b.timers.claimDue('inc-1:step:2', T0)).toBe(true);
    expect(await a.timers.claimDue('inc-1:step:2', T0)).toBe(false);
  });

  it('fires each of many timers due at once exactly once across two live nodes', async () => {
    const { a, nodeA, nodeB, runsA, runsB } = await twoTimerNodes();
    const due = Date.now() + 1500;
    const keys = Array.from({ length: 120 }, (_, i) => `inc-${i}:step:2`);
    // Half scheduled on each node: each node arms its own at once and the other's from the notice or the poll.
    await Promise.all(keys.map((key, i) => (i % 2 === 0 ? nodeA : nodeB).schedule(step(key, due))));
    await waitFor(
      'every timer fired',
      async () => (await a.timers.listPending()).length === 0 && runsA.length + runsB.length === keys.length,
      {
        timeoutMs: 30_000,
      },
    );
    const fired = await firedRows(a);
    expect([...fired.keys()].sort()).toEqual([...keys].sort());
    expect([...fired.values()].every((n) => n === 1)).toBe(true);
    expect([...runsA, ...runsB].sort()).toEqual([...keys].sort());
  });

  it('fires a timer scheduled on a node that is gone, on the node that is left, once', async () => {
    const { a, b, nodeA, runsA, runsB } = await twoTimerNodes();
    await nodeA.schedule(step('inc-7:step:3', Date.now() + 600));
    await nodeA.stop();
    await a.close();
    await waitFor('the step fired on the node left', () => runsB.length === 1, { timeoutMs: 15_000 });
    expect(runsA).toEqual([]);
    expect([...(await firedRows(b)).entries()]).toEqual([['inc-7:step:3', 1]]);
  });

  it('fires a step whose claiming node froze inside its transaction once the server ends that transaction, and only there', async () => {
    const url = await (pg as PostgresFixture).freshUrl();
    const lost: Error[] = [];
    const frozen = await open(url, { idleInTransactionMs: 800, onConnectionError: (err) => lost.push(err) });
    const alive = await open(url);
    let thaw = (): void => undefined;
    const thawed = new Promise<void>((resolve) => (thaw = resolve));
    let claimedOnFrozen = (): void => undefined;
    const frozenHolds = new Promise<void>((resolve) => (claimedOnFrozen = resolve));
    const runsFrozen: string[] = [];
    const runsAlive: string[] = [];
    // The frozen node claims the step, then stops doing anything while its transaction is open.
    const nodeFrozen = await timersOn(frozen, runsFrozen, async () => {
      claimedOnFrozen();
      await thawed;
    });
    await nodeFrozen.schedule(step('inc-9:step:2', Date.now()));
    await frozenHolds;
    await timersOn(alive, runsAlive);
    await waitFor('the step fired on the live node', () => runsAlive.length === 1, { timeoutMs: 15_000 });
    expect(lost.map((e) => e.message).join(' ')).toMatch(/idle-in-transaction timeout/);
    thaw();
    // The frozen node's late commit fails: its audit row never lands, and it does not run the step a second time.
    await waitFor('the frozen node gave up', async () => (await frozen.timers.listPending()).length === 0 && runsFrozen.length === 0);
    await nodeFrozen.stop();
    expect(runsFrozen).toEqual([]);
    expect([...(await firedRows(alive)).entries()]).toEqual([['inc-9:step:2', 1]]);
  });
});

describe('PostgreSQL: timer notices', () => {
  it('fires a step whose firing failed as soon as the notices connection listens again, not a retry interval later', async () => {
    const url = await (pg as PostgresFixture).freshUrl();
    const a = await open(url, { noticesRetryMs: { first: 50, max: 100 } });
    const runs: string[] = [];
    let failures = 0;
    const timers = new DurableTimers({
      store: a,
      clock: systemClock,
      log: silentLogger(),
      // Far beyond the test's wait: only the connection listening again can bring the step back in time.
      retryMs: 600_000,
      shared: { pollMs: 100, changes: a.timerChanges() },
    });
    timers.setHandler(() => {
      // The first attempt fails as it does while the database is away.
      if (failures++ === 0) throw new Error('database away');
      return Promise.resolve([() => runs.push('inc-3:step:2')]);
    });
    running.push(timers);
    await timers.start();
    await timers.schedule(step('inc-3:step:2', Date.now()));
    await waitFor('the first attempt failed', () => failures === 1);
    const pid = a.database.notices.backendPid();
    await a.database.query('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor('the step fired once the connection listens again', () => runs.length === 1, { timeoutMs: 15_000 });
    expect(failures).toBe(2);
  });

  /** A fresh store, listening to its own timer notices and counting them (stop `listener` after). */
  const countingNotices = async () => {
    const a = await open(await (pg as PostgresFixture).freshUrl());
    const listener = a.timerChanges();
    let count = 0;
    await listener.start(() => count++);
    return { a, listener, notices: () => count };
  };

  it('announces timers scheduled in a transaction once it has committed, and never those of one rolled back', async () => {
    const { a, listener, notices } = await countingNotices();
    try {
      const first = notices();
      let held = (): void => undefined;
      const holding = new Promise<void>((resolve) => (held = resolve));
      let go = (): void => undefined;
      const proceed = new Promise<void>((resolve) => (go = resolve));
      const committing = a.transaction(async () => {
        await a.timers.scheduleAll([step('inc-1:step:2', T0), step('inc-1:call:1', T0)]);
        held();
        await proceed;
      });
      await holding;
      // Scheduled, not committed: nobody is told yet.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(notices()).toBe(first);
      go();
      await committing;
      await waitFor('the notice after the COMMIT', () => notices() > first);
      const afterCommit = notices();
      await expect(
        a.transaction(async () => {
          await a.timers.schedule(step('inc-2:step:2', T0));
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      // A later notice proves the earlier one would have arrived by then.
      await a.timers.schedule(step('inc-3:step:2', T0));
      await waitFor('the notice of the timer scheduled outside a transaction', () => notices() > afterCommit);
      expect(notices()).toBe(afterCommit + 1);
      expect((await a.timers.listPending()).map((t) => t.key).sort()).toEqual(['inc-1:call:1', 'inc-1:step:2', 'inc-3:step:2']);
    } finally {
      await listener.stop();
    }
  });

  it('listens again on a new connection after its connection is ended', async () => {
    const { a, listener, notices } = await countingNotices();
    try {
      expect(listener.status()).toBe('listening');
      const first = notices();
      await a.timers.schedule(step('inc-1:step:2', T0));
      await waitFor('the notice', () => notices() > first);
      const pid = listener.backendPid();
      expect(pid).not.toBeNull();
      await a.database.query('SELECT pg_terminate_backend($1)', [pid]);
      await waitFor('listening again on a new connection', async () => listener.backendPid() !== null && listener.backendPid() !== pid, {
        timeoutMs: 10_000,
      });
      const again = notices();
      await a.timers.schedule(step('inc-2:step:2', T0));
      await waitFor('a notice on the new connection', () => notices() > again);
    } finally {
      await listener.stop();
    }
    expect(listener.status()).toBe('stopped');
  });
});

describe('PostgreSQL: unsent SMS leased to the node that stores them', () => {
  it('leaves a live node’s messages alone, takes a silent node’s once its lease runs out, and tells the first node it lost them', async () => {
    const url = await (pg as PostgresFixture).freshUrl();
    const a = await open(url, { lease: { nodeId: 'node-a', leaseMs: 700 } });
    const b = await open(url, { lease: { nodeId: 'node-b', leaseMs: 700 } });
    await a.sms.insert(sms('sms-1'));
    await a.sms.insert(sms('sms-2', { status: 'sending', attempts: 2 }));
    await a.sms.insert(sms('sms-3', { status: 'sent' }));
    expect(await b.smsLeases.claim({ mine: false, limit: 10 })).toEqual([]);
    // Renewed by node a: still not b's, well past the first lease.
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await a.smsLeases.renew(['sms-1', 'sms-2'])).toEqual([]);
    }
    expect(await b.smsLeases.claim({ mine: false, limit: 10 })).toEqual([]);
    // Node a goes silent: once its lease runs out, b takes both unsent messages (never the sent one), oldest first.
    const taken = await waitFor('b takes the messages', async () => {
      const rows = await b.smsLeases.claim({ mine: false, limit: 10 });
      return rows.length > 0 ? rows : null;
    });
    expect(taken.map((m) => [m.id, m.status])).toEqual([
      ['sms-1', 'queued'],
      ['sms-2', 'sending'],
    ]);
    expect(await a.smsLeases.renew(['sms-1', 'sms-2'])).toEqual(['sms-1', 'sms-2']);
    expect(await b.smsLeases.renew(['sms-1', 'sms-2'])).toEqual([]);
  });

  it('renews its leases without waiting on a row another transaction holds, and keeps that row', async () => {
    const url = await (pg as PostgresFixture).freshUrl();
    const a = await open(url, { lease: { nodeId: 'node-a', leaseMs: 60_000 } });
    await a.sms.insert(sms('sms-1'));
    await a.sms.insert(sms('sms-2'));
    expect((await a.smsLeases.claim({ mine: true, limit: null })).map((m) => m.id)).toEqual(['sms-1', 'sms-2']);
    // A status callback's transaction holds sms-2's row lock (a renewal that waited on it deadlocked with such transactions).
    const holder = new pgDriver.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT id FROM sms_messages WHERE id = 'sms-2' FOR UPDATE");
      // Without SKIP LOCKED this waits for the holder, which waits for it: the test would never end.
      expect(await a.smsLeases.renew(['sms-1', 'sms-2'])).toEqual([]);
      await a.smsLeases.release(['sms-1', 'sms-2']);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    // sms-1 was released; sms-2, held meanwhile, is still node a's.
    const b = await open(url, { lease: { nodeId: 'node-b', leaseMs: 60_000 } });
    expect((await b.smsLeases.claim({ mine: false, limit: 10 })).map((m) => m.id)).toEqual(['sms-1']);
  });

  it('hands a stopping node’s messages over at once, and gives a restarted node its own back without waiting', async () => {
    const url = await (pg as PostgresFixture).freshUrl();
    const a = await open(url, { lease: { nodeId: 'node-a', leaseMs: 60_000 } });
    const b = await open(url, { lease: { nodeId: 'node-b', leaseMs: 60_000 } });
    await a.sms.insert(sms('sms-1'));
    await a.sms.insert(sms('sms-2'));
    // Restarted with the same node id: its own rows come back to it (a live other node's would not).
    const again = await open(url, { lease: { nodeId: 'node-a', leaseMs: 60_000 } });
    expect((await again.smsLeases.claim({ mine: true, limit: null })).map((m) => m.id)).toEqual(['sms-1', 'sms-2']);
    expect(await b.smsLeases.claim({ mine: true, limit: null })).toEqual([]);
    await again.smsLeases.release(['sms-2']);
    expect((await b.smsLeases.claim({ mine: false, limit: 10 })).map((m) => m.id)).toEqual(['sms-2']);
  });

  it('splits abandoned messages between two nodes taking over at once: none goes to both', async () => {
    const url = await (pg as PostgresFixture).freshUrl();
    const dead = await open(url, { lease: { nodeId: 'node-dead', leaseMs: 1 } });
    const b = await open(url, { lease: { nodeId: 'node-b', leaseMs: 60_000 } });
    const c = await open(url, { lease: { nodeId: 'node-c', leaseMs: 60_000 } });
    for (let i = 0; i < 60; i++) await dead.sms.insert(sms(`sms-${String(i).padStart(2, '0')}`, { createdAt: T0 + i }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const takes = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? b : c).smsLeases.claim({ mine: false, limit: 15 })));
    const ids = takes.flat().map((m) => m.id);
    expect(ids).toHaveLength(60);
    expect(new Set(ids).size).toBe(60);
  });
});

describe('PostgreSQL: calls not yet placed, leased to the node that stores them', () => {
  it('takes a silent node’s queued and placing calls after its lease, and a stopping node hands back only those not being placed', async () => {
    const url = await (pg as PostgresFixture).freshUrl();
    const a = await open(url, { lease: { nodeId: 'node-a', leaseMs: 500 } });
    const b = await open(url, { lease: { nodeId: 'node-b', leaseMs: 60_000 } });
    await a.voice.create(voiceCall('call-1', { status: 'queued' }));
    await a.voice.create(voiceCall('call-2', { status: 'placing' }));
    await a.voice.create(voiceCall('call-3', { status: 'ringing' }));
    // A stop hands back the queued call, not the one whose provider call may be under way.
    await a.callLeases.release(['call-1', 'call-2']);
    expect((await b.callLeases.claim({ mine: false, limit: 10 })).map((c) => c.id)).toEqual(['call-1']);
    const taken = await waitFor('b takes the placing call once a’s lease ran out', async () => {
      const rows = await b.callLeases.claim({ mine: false, limit: 10 });
      return rows.length > 0 ? rows : null;
    });
    expect(taken.map((c) => [c.id, c.status])).toEqual([['call-2', 'placing']]);
    expect(await a.callLeases.renew(['call-2'])).toEqual(['call-2']);
  });
});

describe('PostgreSQL: a dispatcher frozen past its lease', () => {
  it('lets go of the message another node took over and sent, instead of sending it a second time when it thaws', async () => {
    const url = await (pg as PostgresFixture).freshUrl();
    const a = await open(url, { lease: { nodeId: 'node-a', leaseMs: 600 } });
    const b = await open(url, { lease: { nodeId: 'node-b', leaseMs: 60_000 } });
    const sim = new TwilioSimServer({ callbackDelayMs: 2 });
    const apiUrl = (await sim.start()).url;
    const provider = () => simTwilioProvider(sim, apiUrl);
    const lines: string[] = [];
    const frozenClock = new ManualClock(Date.now());
    const dispatcher = (store: PostgresStore, clock: Clock, log = silentLogger()) =>
      new SmsDispatcher({
        store,
        provider: provider(),
        clock,
        log,
        bus: new EventBus<NotifierEvents>(silentLogger()),
        publicUrl: 'http://127.0.0.1:9',
        backoffMs: () => 60_000,
        leasing: { leases: store.smsLeases, renewEveryMs: 200, takeOverEveryMs: 100 },
      });
    // Node a's clock stands still: it neither renews nor retries until it thaws (SIGSTOP, a stalled VM).
    const nodeA = dispatcher(a, frozenClock, createLogger({ level: 'warn', destination: { write: (line: string) => lines.push(line) } }));
    const nodeB = dispatcher(b, systemClock);
    try {
      sim.setOutage(503);
      await nodeA.start();
      const page = await nodeA.enqueue(pageSms());
      await waitFor('node a tried once', async () => ((await a.sms.get(page.id))?.attempts ?? 0) >= 1);
      sim.setOutage(null);
      await nodeB.start();
      await sim.waitForMessage(() => true, 15_000);
      await waitFor('node b recorded it sent', async () => (await b.sms.get(page.id))?.status !== 'sending');
      // Thaw: the first renewal says the message is another node's; then its retry comes up and is dropped.
      frozenClock.advance(200);
      await waitFor('node a told it lost the lease', () => lines.some((l) => l.includes('another node took over SMS')));
      frozenClock.advance(60_000);
      await waitFor('node a let it go', () => lines.some((l) => l.includes('SMS taken over by another node; not sent here')));
      expect(sim.messages()).toHaveLength(1);
    } finally {
      await nodeA.stop();
      await nodeB.stop();
      await sim.stop();
    }
  });
});
