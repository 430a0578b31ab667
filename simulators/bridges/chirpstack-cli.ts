// `npm run sim:chirpstack`: plays ChirpStack for a registry's LoRaWAN devices alone (`npm run sim -- --lora-sos R` does it beside the fleet).
import { parseArgs } from 'node:util';
import { parseDuration, parseRate, sleep } from '../common/duration.js';
import { SimRegistry } from '../common/registry.js';
import { ChirpstackFleet } from './chirpstack-fleet.js';

const HELP = `Usage: npm run sim:chirpstack -- [registry] [options]

Publishes ChirpStack v4 events (JSON integration format) for the registry's devices behind ChirpStack bridges, on
each bridge's broker with the bridge's credentials, as a ChirpStack server would: a join per device at the start,
periodic reports with a slowly draining battery, a DevStatusAns now and then, and SOS presses at the given rate.

  registry            JSON or YAML registry (default: $DATA_DIR/demo-registry.yaml)
  --url URL           use this broker instead of the bridges' own url
  --report D          periodic report per device (default 5m)
  --status D          device status per device (default 1h)
  --sos R             SOS presses across the LoRaWAN devices, e.g. 2/min (default 0)
  --duration D        stop after D (default: until Ctrl-C)
  --start-mosquitto   start Debian's mosquitto on the first bridge's port with its credentials (a demo without ChirpStack)
  -h, --help          this text
`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      report: { type: 'string', default: '5m' },
      status: { type: 'string', default: '1h' },
      sos: { type: 'string', default: '0' },
      duration: { type: 'string' },
      'start-mosquitto': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const registry = await SimRegistry.load(positionals[0] ?? `${process.env.DATA_DIR ?? './data'}/demo-registry.yaml`);
  if (!(registry.doc.bridges ?? []).some((b) => b.kind === 'chirpstack'))
    throw new Error(`${registry.path}: no ChirpStack bridge in the registry`);
  const fleet = new ChirpstackFleet({
    doc: registry.doc,
    ...(values.url ? { url: values.url } : {}),
    sosPerSecond: parseRate(values.sos),
    reportMs: parseDuration(values.report),
    statusMs: parseDuration(values.status),
    startMosquitto: values['start-mosquitto'],
    say: (line) => console.log(line),
  });
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  try {
    await fleet.start();
    if (values.duration) await sleep(parseDuration(values.duration), stop.signal);
    else await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  } finally {
    await fleet.stop();
  }
  const c = fleet.counts();
  console.log(`${c.sent} ChirpStack events published (${c.sos} SOS), ${c.errors} errors`);
  if (c.errors > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
