// The SMS sender thread under faults: a thread that dies mid-send, one that hangs, one that cannot start, an SDK that cannot be set up, a send after close.
// The real Twilio SDK runs in each (the faulty script wraps the real one) against the Twilio simulator.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { TwilioProvider } from '../../gateway/notifiers/twilio.js';
import { simTwilioProvider } from '../helpers/sms.js';
import { SmsSendError } from '../../gateway/notifiers/provider.js';
import { SmsDispatcher, type NotifierEvents } from '../../gateway/notifiers/dispatcher.js';
import { EventBus } from '../../gateway/core/events.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { openSqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';

const TO = '+8613800000001';
const FAULTY = new URL('../fixtures/sender-thread-faulty.mjs', import.meta.url);
const BROKEN = new URL('../fixtures/sender-thread-broken.mjs', import.meta.url);

let sim: TwilioSimServer;
let apiUrl: string;
const providers: TwilioProvider[] = [];

function provider(senderThread: NonNullable<ConstructorParameters<typeof TwilioProvider>[0]['senderThread']>): TwilioProvider {
  const p = simTwilioProvider(sim, apiUrl, { senderThread });
  providers.push(p);
  return p;
}

async function failure(p: TwilioProvider, body: string): Promise<SmsSendError> {
  const err: unknown = await p.send({ to: TO, body, statusCallback: null }).then(
    () => new Error('expected the send to fail'),
    (e: unknown) => e,
  );
  if (err instanceof SmsSendError) return err;
  throw err;
}

beforeAll(async () => {
  sim = new TwilioSimServer({ callbackDelayMs: 1 });
  apiUrl = (await sim.start()).url;
});

afterEach(async () => {
  for (const p of providers.splice(0)) await p.close();
});

afterAll(async () => {
  await sim.stop();
});

describe('SMS sender thread', () => {
  it('sends through its thread and reports it', async () => {
    const p = provider({});
    const sent = await p.send({ to: TO, body: '求助', statusCallback: null });
    expect(await sim.waitForMessage((m) => m.sid === sent.sid, 1000)).toMatchObject({ to: TO, body: '求助' });
    expect(p.health()).toEqual({ sender: 'thread', senderRestarts: 0, problem: null });
  });

  it('fails the send of a thread that dies mid-send as transient, and sends the next through a new thread', async () => {
    const p = provider({ url: FAULTY });
    const err = await failure(p, 'CRASH');
    expect(err.transient).toBe(true);
    expect(err.providerCode).toBe('SENDER_THREAD_LOST');
    expect(err.message).toMatch(/exited \(code 7\)/);
    const next = await p.send({ to: TO, body: 'after the crash', statusCallback: null });
    expect(await sim.waitForMessage((m) => m.sid === next.sid, 1000)).toMatchObject({ body: 'after the crash' });
    expect(p.health()).toMatchObject({ sender: 'thread', senderRestarts: 1, problem: null });
  });

  it('gives up on a send its thread does not answer, and replaces the stuck thread', async () => {
    // The watchdog also covers the new thread's start (loading the SDK), which took over 400 ms on a loaded CI
    // machine; 2 s keeps a slow start from counting as a second stuck thread.
    // The hung thread never answers, so a failure at all is the watchdog's: its message names the deadline it gave.
    const p = provider({ url: FAULTY, watchdogMs: 2000 });
    // One send first, so the thread has loaded the SDK: a thread that hangs while still starting cannot have sent
    // anything, and its send rightly goes on to the next thread instead of failing (seen on a host at load 10).
    await p.send({ to: TO, body: 'before the hang', statusCallback: null });
    const err = await failure(p, 'HANG');
    expect(err.transient).toBe(true);
    expect(err.message).toMatch(/did not answer within 2000 ms/);
    const next = await p.send({ to: TO, body: 'after the hang', statusCallback: null });
    expect(await sim.waitForMessage((m) => m.sid === next.sid, 1000)).toMatchObject({ body: 'after the hang' });
    expect(p.health().senderRestarts).toBe(1);
  });

  it('fails every send, loudly and as transient, when the SDK cannot be set up in the thread or on the event loop', async () => {
    const p = new TwilioProvider({
      accountSid: 'not-an-account',
      authToken: sim.authToken,
      from: '+15005550006',
      apiUrl,
      log: silentLogger(),
    });
    providers.push(p);
    const err = await failure(p, 'x');
    expect(err.transient).toBe(true);
    expect(err.providerCode).toBe('SENDER_UNAVAILABLE');
    expect(err.message).toMatch(/the Twilio SMS SDK could not be set up: .*accountSid/);
    expect(p.health()).toMatchObject({
      sender: 'event-loop',
      problem: expect.stringMatching(/SMS sender thread could not start/) as unknown,
    });
  });

  it('fails a send after close as transient, at once', async () => {
    const p = provider({});
    await p.close();
    const err = await failure(p, 'too late');
    expect(err.transient).toBe(true);
    expect(err.message).toMatch(/SMS sender is closed/);
  });

  it('moves sends onto the event loop when the thread cannot start, without losing the one waiting, and says so', async () => {
    const p = provider({ url: BROKEN, maxStartFailures: 3 });
    // Sent while the thread is still failing to start: it cannot have left, so it goes on once sending is inline.
    const sent = await p.send({ to: TO, body: 'no thread', statusCallback: null });
    expect(await sim.waitForMessage((m) => m.sid === sent.sid, 1000)).toMatchObject({ body: 'no thread' });
    const health = p.health();
    expect(health.sender).toBe('event-loop');
    expect(health.problem).toMatch(/SMS sender thread could not start \(cannot load the Twilio SDK\)/);

    const dir = tempDir('care-gw-sender-');
    const store = openSqliteStore(`${dir.path}/gateway.db`);
    try {
      const dispatcher = new SmsDispatcher({
        store,
        provider: p,
        clock: systemClock,
        log: silentLogger(),
        bus: new EventBus<NotifierEvents>(silentLogger()),
        publicUrl: 'http://127.0.0.1:9',
      });
      expect(dispatcher.health()).toMatchObject({ degraded: true, sender: { sender: 'event-loop' } });
    } finally {
      await store.close();
      dir.remove();
    }
  });
});
