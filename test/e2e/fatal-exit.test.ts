// The process policy on a fault nobody handled: gateway/main.ts logs it at fatal, stops within a bound and exits 70, and the restart a supervisor makes pages from the database.
import mqtt from 'mqtt';
import { describe, it, type TestContext } from 'vitest';
import { FATAL_EXIT_CODE } from '../../gateway/fatal.js';
import { ChildTracker, e2eFixture, GatewayProcess, gatewayAddresses, gatewayEnv, listIncidents } from '../helpers/e2e-process.js';

const WORKER = '+8613900000001'; // w-01 李明, the on-duty worker nearest to r-001
const FAULT_FIXTURE = 'test/fixtures/fault-after-start.ts';
const HANGING_STOP_FIXTURE = 'test/fixtures/fault-hanging-stop.ts';

interface LogLine {
  level: number;
  msg: string;
  kind?: string;
  err?: { message?: string };
}

const FATAL = 60;

/** The JSON log lines on stdout; a line may follow other output that lacked its newline, so each is found where it starts. */
function logLines(stdout: string): LogLine[] {
  return stdout
    .split('\n')
    .map((l) => l.slice(Math.max(0, l.indexOf('{"level"'))))
    .filter((l) => l.startsWith('{"level"'))
    .map((l) => JSON.parse(l) as LogLine);
}

async function rig(onTestFinished: TestContext['onTestFinished']) {
  const { children, sim, dir } = await e2eFixture('care-gw-e2e-fatal-', onTestFinished);
  const addresses = await gatewayAddresses();
  const env = gatewayEnv({ dataDir: `${dir.path}/data`, addresses, twilioApiUrl: sim.url });
  return {
    sim,
    addresses,
    children,
    start: async (command?: [string, ...string[]], extraEnv: Record<string, string> = {}) => {
      const gateway = children.add(new GatewayProcess({ ...env, ...extraEnv }, command).spawn());
      await gateway.waitForBanner();
      return gateway;
    },
  };
}

describe('an unhandled fault in the gateway process', () => {
  it('an unhandled rejection is logged at fatal, the process exits 70, and the restart pages the alarm PUBACKed before it', async ({
    expect,
    onTestFinished,
  }) => {
    const r = await rig(onTestFinished);
    // No SMS can go out before the fault: the page after the restart comes from the database.
    await r.sim.setDown(true);
    const first = await r.start(['node', '--import', 'tsx', FAULT_FIXTURE], { FAULT: 'rejection' });
    const button = await mqtt.connectAsync(r.addresses.mqttUrl, {
      clientId: 'btn-001',
      username: 'btn-001',
      password: 's3cret-btn-001',
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });

    first.signalGroup('SIGUSR2');
    const exit = await first.waitForExit(10_000);
    button.end(true);
    expect(exit).toEqual({ code: FATAL_EXIT_CODE, signal: null });
    const fatal = logLines(first.stdout).filter((l) => l.level === FATAL);
    expect(fatal[0]).toMatchObject({ kind: 'unhandledRejection', err: { message: 'injected fault' } });
    expect(fatal.at(-1)?.msg).toBe('stopped after a fault; exiting');
    expect(r.sim.messages()).toEqual([]);

    // What systemd's Restart=always or compose's restart policy does: start it again on the same DATA_DIR.
    await r.sim.setDown(false);
    await r.start();
    await r.sim.waitForMessage((m) => m.to === WORKER && m.body.includes('回1'), 8000);
    const incidents = await listIncidents(r.addresses.publicUrl);
    expect(incidents.map((i) => ({ resident: i.resident, type: i.type, signalCount: i.signalCount }))).toEqual([
      { resident: 'r-001', type: 'sos', signalCount: 1 },
    ]);
  }, 60_000);

  it('an uncaught exception is logged at fatal and the process exits 70 after its stop', async ({ expect, onTestFinished }) => {
    const r = await rig(onTestFinished);
    const gateway = await r.start(['node', '--import', 'tsx', FAULT_FIXTURE], { FAULT: 'exception' });
    gateway.signalGroup('SIGUSR2');
    expect(await gateway.waitForExit(10_000)).toEqual({ code: FATAL_EXIT_CODE, signal: null });
    const fatal = logLines(gateway.stdout).filter((l) => l.level === FATAL);
    expect(fatal[0]).toMatchObject({ kind: 'uncaughtException', err: { message: 'injected fault' } });
    expect(fatal.at(-1)?.msg).toBe('stopped after a fault; exiting');
  }, 60_000);

  it('a stop that never finishes after a fault does not keep the process alive', async ({ expect, onTestFinished }) => {
    const children = new ChildTracker();
    onTestFinished(() => children.killAll());
    const proc = children.add(new GatewayProcess({ LOG_LEVEL: 'info' }, ['node', '--import', 'tsx', HANGING_STOP_FIXTURE]).spawn());
    expect(await proc.waitForExit(15_000)).toEqual({ code: FATAL_EXIT_CODE, signal: null });
    const fatal = logLines(proc.stdout).filter((l) => l.level === FATAL);
    expect(fatal.map((l) => l.msg)).toEqual([
      'unhandled fault: stopping, for the supervisor to restart the gateway from its database',
      'stop after a fault did not finish in time; exiting',
    ]);
  }, 30_000);
});
