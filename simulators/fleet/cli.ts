// `npm run sim`: connects a registry's devices to a running gateway and keeps them talking, with alarms, bad input and power cuts on request.
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEVICE_KINDS, type DeviceKind } from '../../gateway/core/types.js';
import { formatDuration, parseDuration, parseRate, sleep } from '../common/duration.js';
import { Random } from '../common/random.js';
import { SimRegistry } from '../common/registry.js';
import { BAD_INPUTS, type BadInput } from './device.js';
import { Fleet, type FleetPlan } from './fleet.js';
import { FleetStats, progressLine, summary } from './stats.js';
import { onenetMain } from '../onenet/cli.js';
import { Zigbee2mqttFleet } from '../bridges/zigbee2mqtt-fleet.js';
import { ChirpstackFleet } from '../bridges/chirpstack-fleet.js';

const HELP = `Usage: npm run sim -- [registry] [options]

Connects the devices of a registry to a running gateway over MQTT, each with its own id and secret,
and keeps them talking: heartbeats, telemetry with a slowly draining battery, motion following a
daily rhythm, SOS and falls at a chosen rate (some cancelled), bad input, and power cuts.

  registry                 JSON or YAML registry with device secrets (default: $DATA_DIR/demo-registry.yaml,
                           the demo neighbourhood \`npm start\` writes; DATA_DIR defaults to ./data)

Connection
  --url URL                MQTT broker (default mqtt://127.0.0.1:$MQTT_PORT, port 1883)
  --devices N              only the first N devices of the registry (default: all)
  --kinds K,K              only devices of these kinds (${DEVICE_KINDS.join(', ')})
  --connect-concurrency N  logins in flight at once (default 50)
  --duration D             stop after D, e.g. 90s or 10m (default: until Ctrl-C)

Everyday traffic
  --heartbeat D            heartbeat event interval per device (default 60s; 0 = none)
  --telemetry D            telemetry interval per device (default 5m; 0 = none)
  --drain R                battery percent lost per hour (default 0.5/h)
  --motion R               motion events per activity sensor in the busiest hour (default 12/h)
  --day-speed X            the simulated day runs X times faster than real time (default 1; 1440 = a day a minute)
  --start-hour H           simulated local hour at the start (default: the time now in --tz)
  --tz ZONE                time zone of the daily rhythm (default $GATEWAY_TZ, $TZ, or Asia/Shanghai)

Alarms and trouble
  --sos R                  SOS presses across the fleet, e.g. 2/min (default 0)
  --fall R                 falls across the fleet (default 0)
  --cancel P               share of alarms followed by a cancel, 0..1 (default 0.2)
  --cancel-within D        a cancel comes at most D after its alarm (default: 80% of the registry's fallCancelSeconds)
  --bad R                  bad inputs across the fleet, e.g. 6/min (default 0)
  --bad-kinds K,K          which bad inputs (default all: ${BAD_INPUTS.join(', ')})
  --power-cut B@T[+D]      at T the building B loses power: its devices' sockets are destroyed, their wills
                           fire; power is back after D when given. Repeatable. See --list-buildings.
  --dying-battery ID@T     at T the device reports low_battery at 3% and goes silent. Repeatable.

Bridged devices
  --z2m-sos R              SOS presses and radar falls across the devices of the registry's zigbee2mqtt bridges on
                           the gateway's broker (default 0). Those bridges always connect, as zigbee2mqtt would, with
                           availability, battery reports (--telemetry) and motion (--motion).
  --lora-sos R             SOS presses across the devices of the registry's ChirpStack bridges (default 0). ChirpStack
                           is played on each bridge's broker (joins, reports every --telemetry, status); with
                           --start-mosquitto, Debian's mosquitto is started as that broker on the bridge's port.

Other
  --seed N                 random seed, to repeat a run exactly (default: random, printed)
  --list-buildings         print the registry's buildings with their device counts, and exit
  -h, --help               this text

Rates are written N/s, N/min or N/h; durations 500ms, 10s, 2m, 1h. On a terminal a progress line shows
connected, sent, acked, errors and the message rate; a summary follows at the end. The exit code is 1
when anything went wrong (a message not acknowledged, a refused login that should have worked).

Examples
  npm run sim                                            # the demo neighbourhood, everyday traffic
  npm run sim -- --sos 2/min --fall 1/min --cancel 0.3   # alarms, some cancelled
  npm run sim -- --power-cut 安达里3号楼@30s+60s --dying-battery btn-001@10s
  npm run sim -- --bad 10/min --duration 2m
  npm run sim -- onenet --bridge onenet-1 --token T --dev 42 --sos-after 10s   # a OneNET pusher (see: npm run sim -- onenet -h)`;

interface Timed {
  target: string;
  atMs: number;
  forMs: number | null;
}

/** `B@T` or `B@T+D`; the last '@' splits, so a building name may contain one. */
function parseTimed(flagName: string, value: string, allowFor: boolean): Timed {
  const at = value.lastIndexOf('@');
  if (at <= 0) throw new Error(`${flagName}: expected NAME@TIME, e.g. "安达里3号楼@30s", got "${value}"`);
  const target = value.slice(0, at);
  const [when, length] = value.slice(at + 1).split('+');
  if (length !== undefined && !allowFor) throw new Error(`${flagName}: "+DURATION" is not supported here (got "${value}")`);
  return {
    target,
    atMs: flag(flagName, when ?? '', parseDuration),
    forMs: length === undefined ? null : flag(flagName, length, parseDuration),
  };
}

function kindsOf(value: string | undefined): Set<DeviceKind> | null {
  if (!value) return null;
  return new Set(
    value.split(',').map((k) => {
      const kind = DEVICE_KINDS.find((known) => known === k.trim());
      if (!kind) throw new Error(`--kinds: unknown kind "${k.trim()}" (known: ${DEVICE_KINDS.join(', ')})`);
      return kind;
    }),
  );
}

function badKindsOf(value: string | undefined): BadInput[] {
  if (!value) return [...BAD_INPUTS];
  return value.split(',').map((k) => {
    const kind = k.trim();
    const known = BAD_INPUTS.find((b) => b === kind);
    if (!known) throw new Error(`--bad-kinds: unknown kind "${kind}" (known: ${BAD_INPUTS.join(', ')})`);
    return known;
  });
}

/** Parses a flag's value with `parse`, naming the flag in the error. */
function flag<T>(name: string, value: string, parse: (v: string) => T): T {
  try {
    return parse(value);
  } catch (err) {
    throw new Error(`${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function number(name: string, value: string | undefined, fallback: number, check: (n: number) => boolean, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || !check(n)) throw new Error(`${name}: expected ${what}, got "${value}"`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  // Bridged devices behind a vendor cloud speak HTTP, not MQTT: their pusher is a subcommand.
  if (argv[0] === 'onenet') return onenetMain(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      devices: { type: 'string' },
      kinds: { type: 'string' },
      'connect-concurrency': { type: 'string' },
      duration: { type: 'string' },
      heartbeat: { type: 'string' },
      telemetry: { type: 'string' },
      'z2m-sos': { type: 'string' },
      'lora-sos': { type: 'string' },
      'start-mosquitto': { type: 'boolean' },
      drain: { type: 'string' },
      motion: { type: 'string' },
      'day-speed': { type: 'string' },
      'start-hour': { type: 'string' },
      tz: { type: 'string' },
      sos: { type: 'string' },
      fall: { type: 'string' },
      cancel: { type: 'string' },
      'cancel-within': { type: 'string' },
      bad: { type: 'string' },
      'bad-kinds': { type: 'string' },
      'power-cut': { type: 'string', multiple: true },
      'dying-battery': { type: 'string', multiple: true },
      seed: { type: 'string' },
      'list-buildings': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length > 1) throw new Error(`expected at most one registry file, got ${positionals.length}: ${positionals.join(' ')}`);
  const registryPath = positionals[0] ?? join(process.env.DATA_DIR ?? './data', 'demo-registry.yaml');
  const registry = await SimRegistry.load(registryPath);

  if (values['list-buildings']) {
    for (const b of registry.buildings())
      process.stdout.write(`${b}\t${registry.devices.filter((d) => d.building === b).length} devices\n`);
    return 0;
  }

  const kinds = kindsOf(values.kinds);
  const limit = number('--devices', values.devices, Infinity, (n) => Number.isInteger(n) && n > 0, 'a positive whole number');
  const devices = registry.devices.filter((d) => !kinds || kinds.has(d.kind)).slice(0, limit);
  if (devices.length === 0)
    throw new Error(`no devices to simulate in ${registry.path}${kinds ? ` of kinds ${[...kinds].join(', ')}` : ''}`);

  const powerCuts = (values['power-cut'] ?? []).map((v) => parseTimed('--power-cut', v, true));
  for (const cut of powerCuts) {
    if (!registry.buildings().includes(cut.target))
      throw new Error(`--power-cut: no building "${cut.target}" in the registry (see --list-buildings)`);
  }
  const dying = (values['dying-battery'] ?? []).map((v) => parseTimed('--dying-battery', v, false));
  for (const d of dying) {
    if (!devices.some((x) => x.id === d.target)) throw new Error(`--dying-battery: no device "${d.target}" among the simulated devices`);
  }

  const seed = values.seed === undefined ? randomInt(2 ** 31) : number('--seed', values.seed, 0, Number.isInteger, 'a whole number');
  const timeZone = values.tz ?? process.env.GATEWAY_TZ ?? process.env.TZ ?? 'Asia/Shanghai';
  const plan: FleetPlan = {
    heartbeatMs: flag('--heartbeat', values.heartbeat ?? '60s', parseDuration),
    telemetryMs: flag('--telemetry', values.telemetry ?? '5m', parseDuration),
    drainPerHour: flag('--drain', values.drain ?? '0.5/h', parseRate) * 3600,
    motionPerHour: flag('--motion', values.motion ?? '12/h', parseRate) * 3600,
    daySpeed: number('--day-speed', values['day-speed'], 1, (n) => n > 0, 'a positive number'),
    ...(values['start-hour'] === undefined
      ? {}
      : { startHour: number('--start-hour', values['start-hour'], 0, (n) => n >= 0 && n < 24, 'an hour 0-23') }),
    sosPerSecond: flag('--sos', values.sos ?? '0', parseRate),
    fallPerSecond: flag('--fall', values.fall ?? '0', parseRate),
    cancelRatio: number('--cancel', values.cancel, 0.2, (n) => n >= 0 && n <= 1, 'a share between 0 and 1'),
    cancelWithinMs: values['cancel-within']
      ? flag('--cancel-within', values['cancel-within'], parseDuration)
      : Math.max(1000, registry.escalation.fallCancelSeconds * 800),
    badPerSecond: flag('--bad', values.bad ?? '0', parseRate),
    badKinds: badKindsOf(values['bad-kinds']),
  };
  const url = values.url ?? `mqtt://127.0.0.1:${process.env.MQTT_PORT ?? '1883'}`;
  const durationMs = values.duration ? flag('--duration', values.duration, parseDuration) : null;

  const stats = new FleetStats(devices.length);
  const fleet = new Fleet({
    url,
    devices,
    plan,
    random: new Random(seed),
    stats,
    timeZone,
    connectConcurrency: number(
      '--connect-concurrency',
      values['connect-concurrency'],
      50,
      (n) => Number.isInteger(n) && n > 0,
      'a positive whole number',
    ),
  });
  const say = (line: string): void => {
    process.stdout.write(`${process.stdout.isTTY ? '\r\x1b[2K' : ''}${line}\n`);
  };
  say(`fleet: ${devices.length} devices from ${registry.path} -> ${url} (seed ${seed})`);

  const stop = new AbortController();
  let interrupted = 0;
  const onSignal = (): void => {
    interrupted++;
    if (interrupted > 1) process.exit(130);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const progress = setInterval(
    () => {
      const line = progressLine(stats.snapshot(), stats.rate());
      if (process.stdout.isTTY) process.stdout.write(`\r\x1b[2K${line}`);
      else say(line);
    },
    process.stdout.isTTY ? 500 : 10_000,
  );

  const timers: NodeJS.Timeout[] = [];
  const zigbee = new Zigbee2mqttFleet({
    url,
    doc: registry.doc,
    random: new Random(seed + 1),
    alarmsPerSecond: flag('--z2m-sos', values['z2m-sos'] ?? '0', parseRate),
    telemetryMs: plan.telemetryMs,
    motionPerHour: plan.motionPerHour,
    say,
  });
  const lora = new ChirpstackFleet({
    doc: registry.doc,
    sosPerSecond: flag('--lora-sos', values['lora-sos'] ?? '0', parseRate),
    reportMs: plan.telemetryMs > 0 ? plan.telemetryMs : 5 * 60_000,
    statusMs: 60 * 60_000,
    startMosquitto: values['start-mosquitto'] === true,
    say,
  });
  try {
    await fleet.start();
    say(`fleet: ${fleet.onlineCount()}/${devices.length} connected`);
    await zigbee.start();
    // Only when asked: without a ChirpStack broker to publish on there is nothing to play.
    if (values['lora-sos'] !== undefined || values['start-mosquitto'] === true) await lora.start();
    for (const cut of powerCuts) {
      timers.push(
        setTimeout(() => {
          say(`power cut in ${cut.target}: ${fleet.powerCut(cut.target)} devices dropped`);
          if (cut.forMs !== null) {
            timers.push(
              setTimeout(
                () => void fleet.powerRestore(cut.target).then((n) => say(`power back in ${cut.target}: ${n} devices reconnecting`)),
                cut.forMs,
              ),
            );
          }
        }, cut.atMs),
      );
    }
    for (const d of dying) {
      timers.push(setTimeout(() => void fleet.dyingBattery(d.target).then(() => say(`${d.target}: battery died`)), d.atMs));
    }
    if (durationMs !== null) await sleep(durationMs, stop.signal);
    else await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  } finally {
    for (const t of timers) clearTimeout(t);
    clearInterval(progress);
    await zigbee.stop();
    await lora.stop();
    await fleet.stop();
  }
  const snap = stats.snapshot();
  say(summary(snap));
  const z = zigbee.counts();
  if (z.sent > 0) say(`zigbee2mqtt: ${z.sent} sent, ${z.acked} acknowledged, ${z.errors} errors`);
  const l = lora.counts();
  if (l.sent > 0) say(`chirpstack: ${l.sent} events published (${l.sos} SOS), ${l.errors} errors`);
  if (durationMs !== null && snap.elapsedMs < durationMs) say(`stopped early after ${formatDuration(snap.elapsedMs)}`);
  return snap.errors > 0 || z.errors > 0 || l.errors > 0 ? 1 : 0;
}

// Output piped into `head` and closed early is not an error of the simulator.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
