// Benchmark entry point (`npm run bench`): runs the latency benchmarks, prints a table and writes bench/results/latest.json.
// Flags: --quick (one short run each), --only <alarm|raw-aedes>[,...], --runs <n>, --alarms <n>, --gap-ms <n>.
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { runAlarmBenchmark, type AlarmBenchResult } from './alarm-latency.js';
import { runRawAedesBenchmark, type RawAedesResult } from './raw-aedes.js';
import { STAGES, STAGE_TEXT } from './lib/alarm-stages.js';
import { describeMachine, loadAverage, machineLine, otherHostCpuPercent, type MachineInfo } from './lib/machine.js';
import type { ConditionRun, PacingOptions } from './lib/rounds.js';
import { acrossRuns, spread, type RunsSummary, type Spread } from './lib/stats.js';
import { formatNumber, formatSpread, renderTable } from './lib/table.js';

const BENCHMARKS = ['alarm', 'raw-aedes'] as const;
type BenchName = (typeof BENCHMARKS)[number];

const TARGET_P99_MS = 10;

interface Settings {
  mode: 'full' | 'quick';
  only: BenchName[];
  runs: number;
  pacing: PacingOptions;
  loadDevices: number;
  loadRate: number;
  settleMs: number;
}

interface ConditionReport {
  runs: ConditionRun[];
  /** Each figure's median over the runs, with the best and worst run. */
  summary: RunsSummary;
  lost: number;
  background_msgs_per_s: { sent: Spread; received: Spread } | null;
}

interface BenchReport {
  idle: ConditionReport;
  load: ConditionReport;
}

function parseArgs(argv: string[]): Settings {
  const quick = argv.includes('--quick');
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const onlyArg = value('--only');
  const only = onlyArg ? onlyArg.split(',').map((s) => s.trim()) : [...BENCHMARKS];
  for (const name of only) {
    if (!(BENCHMARKS as readonly string[]).includes(name)) throw new Error(`--only: unknown benchmark "${name}" (known: ${BENCHMARKS.join(', ')})`);
  }
  const int = (flag: string, fallback: number): number => {
    const raw = value(flag);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: expected a non-negative integer, got "${raw}"`);
    return n;
  };
  return {
    mode: quick ? 'quick' : 'full',
    only: BENCHMARKS.filter((b) => only.includes(b)),
    runs: int('--runs', quick ? 1 : 3),
    pacing: { count: int('--alarms', quick ? 200 : 1000), warmup: quick ? 20 : 50, gapMs: int('--gap-ms', 5), timeoutMs: 5000 },
    loadDevices: 1000,
    loadRate: 2000,
    settleMs: quick ? 1000 : 2000,
  };
}

function conditionReport(rounds: ConditionRun[], condition: ConditionRun['condition']): ConditionReport {
  const runs = rounds.filter((r) => r.condition === condition);
  const bg = runs.map((r) => r.background).filter((b) => b !== null);
  return {
    runs,
    summary: acrossRuns(runs.map((r) => r.summary)),
    lost: runs.reduce((s, r) => s + r.lost, 0),
    background_msgs_per_s: bg.length > 0 ? { sent: spread(bg.map((b) => b.sentPerSec)), received: spread(bg.map((b) => b.receivedPerSec)) } : null,
  };
}

function benchReport(rounds: ConditionRun[]): BenchReport {
  return { idle: conditionReport(rounds, 'idle'), load: conditionReport(rounds, 'load') };
}

/** Per stage and condition: p50 / p99 / max, each the median over the runs. */
function stageTable(alarm: AlarmBenchResult, runs: number): string {
  const rows = STAGES.flatMap((stage) =>
    (['idle', 'load'] as const).map((condition) => {
      const summaries = alarm.stages.filter((r) => r.condition === condition).map((r) => r.stages[stage]);
      const s = acrossRuns(summaries);
      return [stage, condition === 'idle' ? 'idle' : 'telemetry load', formatSpread(s.p50, 2, runs), formatSpread(s.p99, 2, runs), formatSpread(s.max, 2, runs)];
    }),
  );
  return renderTable(
    [{ title: 'alarm stage' }, { title: 'condition' }, { title: 'p50', align: 'right' }, { title: 'p99', align: 'right' }, { title: 'max', align: 'right' }],
    rows,
  );
}

function stageReport(alarm: AlarmBenchResult): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const stage of STAGES) {
    out[stage] = {
      covers: STAGE_TEXT[stage],
      idle: acrossRuns(alarm.stages.filter((r) => r.condition === 'idle').map((r) => r.stages[stage])),
      load: acrossRuns(alarm.stages.filter((r) => r.condition === 'load').map((r) => r.stages[stage])),
    };
  }
  return out;
}

function tableRows(name: string, report: BenchReport, runs: number): string[][] {
  return (['idle', 'load'] as const).map((condition) => {
    const c = report[condition];
    const s = c.summary;
    const bg = c.background_msgs_per_s ? formatSpread(c.background_msgs_per_s.received, 0, runs) : '-';
    const loop = spread(c.runs.map((r) => r.eventLoopDelayP99Ms));
    const cpu = spread(c.runs.map((r) => r.cpuPercent));
    return [
      name,
      condition === 'idle' ? 'idle' : 'telemetry load',
      `${c.runs.length}x${formatNumber(s.n.median)}`,
      formatSpread(s.p50, 2, runs),
      formatSpread(s.p99, 2, runs),
      formatSpread(s.max, 2, runs),
      String(c.lost),
      bg,
      formatSpread(loop, 1, runs),
      formatSpread(cpu, 0, runs),
      formatSpread(spread(c.runs.map((r) => r.gc.maxMs)), 1, runs),
      formatSpread(spread(c.runs.map((r) => r.otherCpuPercent)), 0, runs),
    ];
  });
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  const machine: MachineInfo = describeMachine();
  const startedAt = new Date();
  const t0 = performance.now();
  const log = (line: string): void => console.log(`  ${line}`);
  console.log(`care-gateway benchmarks (${settings.mode}): ${settings.only.join(', ')}`);
  const loadAtStart = loadAverage();
  const busyAtStart = await otherHostCpuPercent(1000);
  console.log(`machine: ${machineLine(machine)}`);
  console.log(`host before start: load average ${loadAtStart}, other processes using ${Math.round(busyAtStart)} % CPU (100 = one core)`);
  const pacingText =
    `sequential: each sample starts ${settings.pacing.gapMs} ms after the previous one completed ` +
    `(${settings.pacing.warmup} warm-up + ${settings.pacing.count} measured per round, ${settings.runs} run(s) of idle then loaded)`;
  const loadText = `${settings.loadRate} msg/s QoS 0 telemetry from ${settings.loadDevices} connected devices (separate process), started ${settings.settleMs} ms before measuring`;
  console.log(`pacing: ${pacingText}`);
  console.log(`load: ${loadText}`);

  const common = { runs: settings.runs, pacing: settings.pacing, loadDevices: settings.loadDevices, loadRate: settings.loadRate, settleMs: settings.settleMs, log };
  let alarm: AlarmBenchResult | null = null;
  let raw: RawAedesResult | null = null;
  if (settings.only.includes('alarm')) alarm = await runAlarmBenchmark(common);
  if (settings.only.includes('raw-aedes')) raw = await runRawAedesBenchmark(common);

  const alarmReport = alarm ? benchReport(alarm.rounds) : null;
  const rawReport = raw ? benchReport(raw.rounds) : null;
  const alarmP99 = alarmReport?.load.summary.p99 ?? null;
  const target = alarmP99
    ? { metric: 'alarm_latency_ms.load.p99 (median of runs)', limitMs: TARGET_P99_MS, valueMs: alarmP99.median, worstRunMs: alarmP99.max, pass: alarmP99.median <= TARGET_P99_MS }
    : null;

  const result = {
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((performance.now() - t0) / 100) / 10,
    mode: settings.mode,
    only: settings.only,
    machine,
    // The same host may run other work; a load average near or above the CPU count means the numbers are noisy.
    hostAtStart: { loadAverage: loadAtStart, otherCpuPercent: busyAtStart },
    settings: { ...settings, pacing: { ...settings.pacing, description: pacingText }, load: loadText },
    alarm_latency_ms: alarm && alarmReport ? { ...alarmReport, stages: stageReport(alarm), setup: alarm.setup, gateway_histogram: alarm.gatewayHistogram } : null,
    raw_aedes_rtt_ms: rawReport,
    target,
  };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}latest.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

  const runs = settings.runs;
  const rows = [...(alarmReport ? tableRows('alarm_latency_ms', alarmReport, runs) : []), ...(rawReport ? tableRows('raw_aedes_rtt_ms', rawReport, runs) : [])];
  console.log('');
  console.log(`Results (ms; ${runs > 1 ? `median of ${runs} runs (min-max)` : 'one run'})`);
  console.log(
    renderTable(
      [
        { title: 'benchmark' },
        { title: 'condition' },
        { title: 'samples', align: 'right' },
        { title: 'p50', align: 'right' },
        { title: 'p99', align: 'right' },
        { title: 'max', align: 'right' },
        { title: 'lost', align: 'right' },
        { title: 'background msg/s', align: 'right' },
        { title: 'loop delay p99', align: 'right' },
        { title: 'CPU %', align: 'right' },
        { title: 'GC max ms', align: 'right' },
        { title: 'other CPU %', align: 'right' },
      ],
      rows,
    ),
  );
  console.log('alarm_latency_ms: device PUBLISH (performance.now() just before mqtt.js publish) -> first SMS request of the incident arriving at the local Twilio-compatible server.');
  console.log('raw_aedes_rtt_ms: the same PUBLISH (QoS 1) through a bare aedes -> delivered to a subscribed mqtt.js client.');
  console.log('background msg/s: telemetry the broker actually received during the measured window; loop delay / CPU % / GC: this process (gateway + SMS server + buttons).');
  console.log('other CPU %: CPU used on the host by processes other than this one and its load process while measuring (100 = one core); high values mean noisy numbers.');
  if (alarm) {
    console.log('');
    console.log('Alarm latency by stage (ms; from the gateway bus events, same alarms)');
    console.log(stageTable(alarm, runs));
    for (const stage of STAGES) console.log(`  ${stage}: ${STAGE_TEXT[stage]}`);
    console.log('');
  }
  if (target) {
    console.log(
      `Target: alarm p99 under load <= ${TARGET_P99_MS} ms: ${target.valueMs.toFixed(2)} ms (worst run ${target.worstRunMs.toFixed(2)} ms) -> ${target.pass ? 'PASS' : 'MISS'}`,
    );
  }
  const h = alarm?.gatewayHistogram;
  if (h) {
    const benchMean = alarmReport ? alarmReport.load.summary.mean.median : Number.NaN;
    console.log(
      `Gateway /metrics alarm_to_first_sms_seconds: count ${h.count} (alarms raised ${h.expected}), sum ${h.sumSeconds.toFixed(3)} s, ` +
        `mean ${h.meanMs.toFixed(2)} ms (hook entry -> SMS send start; bench mean under load ${benchMean.toFixed(2)} ms), ` +
        `${(h.shareAtOrBelow10ms * 100).toFixed(1)} % <= 10 ms, p99 <= ${formatNumber(h.p99UpperBoundMs, 1)} ms bucket`,
    );
  } else if (alarm) {
    console.log('Gateway /metrics: alarm_to_first_sms_seconds not found');
  }
  const noisy = [...(alarmReport ? [alarmReport.idle, alarmReport.load] : []), ...(rawReport ? [rawReport.idle, rawReport.load] : [])]
    .flatMap((c) => c.runs)
    .filter((r) => r.otherCpuPercent > 20).length;
  if (noisy > 0) console.log(`Note: in ${noisy} round(s) other processes used more than 20 % CPU: those numbers are noisy; rerun on a quiet host.`);
  console.log(`Written: ${file} (${result.durationSeconds} s)`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
