// The benchmark report: per-condition summaries across runs, the results table, the stage table and the notes printed under them.
import type { AlarmBenchResult } from '../alarm-latency.js';
import { STAGES, STAGE_TEXT } from './alarm-stages.js';
import type { ConditionRun } from './rounds.js';
import { acrossRuns, spread, type RunsSummary, type Spread } from './stats.js';
import { formatNumber, formatSpread, renderTable } from './table.js';

export const TARGET_P99_MS = 10;

export interface ConditionReport {
  runs: ConditionRun[];
  /** Each figure's median over the runs, with the best and worst run. */
  summary: RunsSummary;
  lost: number;
  background_msgs_per_s: { sent: Spread; received: Spread } | null;
}

export interface BenchReport {
  idle: ConditionReport;
  load: ConditionReport;
  memory: MemoryReport;
}

/**
 * What the rounds cost in garbage, which is what stalls the event loop: GC pauses per round, heap allocated per alarm
 * (idle rounds) and per telemetry message (loaded rounds, less the same run's idle cost per alarm). Steadier than
 * latency on a shared host.
 */
export interface MemoryReport {
  gcPauses: { idle: Spread; load: Spread };
  gcMajor: { idle: Spread; load: Spread };
  gcTotalMs: { idle: Spread; load: Spread };
  gcMaxMs: { idle: Spread; load: Spread };
  /** Pauses per second of the round, and the share of its time spent paused (%): comparable between rounds of any length. */
  gcPausesPerSecond: { idle: Spread; load: Spread };
  gcPercentOfTime: { idle: Spread; load: Spread };
  allocatedKiBPerAlarm: Spread;
  allocatedBytesPerTelemetryMessage: Spread | null;
}

function memoryReport(rounds: ConditionRun[]): MemoryReport {
  const idle = rounds.filter((r) => r.condition === 'idle');
  const load = rounds.filter((r) => r.condition === 'load');
  const both = (f: (r: ConditionRun) => number): { idle: Spread; load: Spread } => ({
    idle: spread(idle.map(f)),
    load: spread(load.map(f)),
  });
  const samples = (r: ConditionRun): number => Math.max(1, r.samplesTaken);
  const perTelemetry = load.flatMap((r) => {
    const baseline = idle.find((i) => i.run === r.run);
    if (!baseline || r.telemetryReceived === 0) return [];
    const alarmsCost = (baseline.allocatedBytes / samples(baseline)) * samples(r);
    return [Math.max(0, r.allocatedBytes - alarmsCost) / r.telemetryReceived];
  });
  return {
    gcPauses: both((r) => r.gc.count),
    gcMajor: both((r) => r.gc.major),
    gcTotalMs: both((r) => r.gc.totalMs),
    gcMaxMs: both((r) => r.gc.maxMs),
    gcPausesPerSecond: both((r) => r.gc.count / r.seconds),
    gcPercentOfTime: both((r) => r.gc.totalMs / 10 / r.seconds),
    allocatedKiBPerAlarm: spread(idle.map((r) => r.allocatedBytes / samples(r) / 1024)),
    allocatedBytesPerTelemetryMessage: perTelemetry.length > 0 ? spread(perTelemetry) : null,
  };
}

export interface TargetCheck {
  metric: string;
  limitMs: number;
  valueMs: number;
  worstRunMs: number;
  pass: boolean;
}

function conditionReport(rounds: ConditionRun[], condition: ConditionRun['condition']): ConditionReport {
  const runs = rounds.filter((r) => r.condition === condition);
  const bg = runs.map((r) => r.background).filter((b) => b !== null);
  return {
    runs,
    summary: acrossRuns(runs.map((r) => r.summary)),
    lost: runs.reduce((s, r) => s + r.lost, 0),
    background_msgs_per_s:
      bg.length > 0 ? { sent: spread(bg.map((b) => b.sentPerSec)), received: spread(bg.map((b) => b.receivedPerSec)) } : null,
  };
}

export function benchReport(rounds: ConditionRun[]): BenchReport {
  return { idle: conditionReport(rounds, 'idle'), load: conditionReport(rounds, 'load'), memory: memoryReport(rounds) };
}

/** Per stage and condition: p50 / p99 / max, each the median over the runs. */
function stageTable(alarm: AlarmBenchResult, runs: number): string {
  const rows = STAGES.flatMap((stage) =>
    (['idle', 'load'] as const).map((condition) => {
      const summaries = alarm.stages.filter((r) => r.condition === condition).map((r) => r.stages[stage]);
      const s = acrossRuns(summaries);
      return [
        stage,
        condition === 'idle' ? 'idle' : 'telemetry load',
        formatSpread(s.p50, 2, runs),
        formatSpread(s.p99, 2, runs),
        formatSpread(s.max, 2, runs),
      ];
    }),
  );
  return renderTable(
    [
      { title: 'alarm stage' },
      { title: 'condition' },
      { title: 'p50', align: 'right' },
      { title: 'p99', align: 'right' },
      { title: 'max', align: 'right' },
    ],
    rows,
  );
}

export function stageReport(alarm: AlarmBenchResult): Record<string, unknown> {
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
      `${formatSpread(report.memory.gcPauses[condition], 0, runs)} / ${formatSpread(report.memory.gcTotalMs[condition], 0, runs)}`,
      formatSpread(report.memory.gcPausesPerSecond[condition], 2, runs),
      formatSpread(report.memory.gcPercentOfTime[condition], 1, runs),
      formatSpread(spread(c.runs.map((r) => r.gc.maxMs)), 1, runs),
      condition === 'idle'
        ? `${formatSpread(report.memory.allocatedKiBPerAlarm, 0, runs)} KiB/sample`
        : report.memory.allocatedBytesPerTelemetryMessage
          ? `${formatSpread(report.memory.allocatedBytesPerTelemetryMessage, 0, runs)} B/msg`
          : '-',
      formatSpread(spread(c.runs.map((r) => r.withoutGc.p99)), 2, runs),
      formatSpread(spread(c.runs.map((r) => r.otherCpuPercent)), 0, runs),
      formatSpread(spread(c.runs.map((r) => r.stealPercent)), 0, runs),
    ];
  });
}

/** alarm p99 under load (median of runs) against the target. */
export function targetCheck(alarm: BenchReport | null): TargetCheck | null {
  const p99 = alarm?.load.summary.p99;
  if (!p99) return null;
  return {
    metric: 'alarm_latency_ms.load.p99 (median of runs)',
    limitMs: TARGET_P99_MS,
    valueMs: p99.median,
    worstRunMs: p99.max,
    pass: p99.median <= TARGET_P99_MS,
  };
}

export function printReport(r: {
  runs: number;
  alarm: AlarmBenchResult | null;
  alarmReport: BenchReport | null;
  /** The same alarm benchmark through the domestic providers (SMS_PROVIDER=aliyun, tencent), printed beside the Twilio rows. */
  providerReports?: { provider: string; report: BenchReport }[];
  rawReport: BenchReport | null;
  target: TargetCheck | null;
}): void {
  const { runs, alarm, alarmReport, rawReport, target } = r;
  const providerRows = (r.providerReports ?? []).flatMap((p) => tableRows(`alarm_latency_ms (${p.provider})`, p.report, runs));
  const rows = [
    ...(alarmReport ? tableRows('alarm_latency_ms', alarmReport, runs) : []),
    ...providerRows,
    ...(rawReport ? tableRows('raw_aedes_rtt_ms', rawReport, runs) : []),
  ];
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
        { title: 'GC pauses / ms', align: 'right' },
        { title: 'GC/s', align: 'right' },
        { title: 'GC % time', align: 'right' },
        { title: 'GC max ms', align: 'right' },
        { title: 'allocated', align: 'right' },
        { title: 'p99 w/o GC', align: 'right' },
        { title: 'other CPU %', align: 'right' },
        { title: 'steal %', align: 'right' },
      ],
      rows,
    ),
  );
  console.log(
    "alarm_latency_ms: device PUBLISH (performance.now() just before mqtt.js publish, in the buttons' process) -> first SMS request of the incident arriving at the local Twilio-compatible server.",
  );
  if (providerRows.length > 0)
    console.log(
      "alarm_latency_ms (aliyun / tencent): the same, with SMS_PROVIDER=aliyun / tencent: the official SDK's SendSms request arriving at the Aliyun- / Tencent-compatible simulator (a fresh gateway each).",
    );
  console.log('raw_aedes_rtt_ms: the same PUBLISH (QoS 1) through a bare aedes -> delivered to a subscribed mqtt.js client.');
  console.log(
    'background msg/s: telemetry the broker actually received during the measured window; loop delay / CPU % / GC: this process (the gateway; + the SMS server with BENCH_SMS_SERVER=inline).',
  );
  console.log('p99 w/o GC: p99 of the samples that no garbage-collection pause of this process overlapped.');
  console.log(
    'GC pauses / ms: garbage-collection pauses of this process in the round, and their total; GC/s and GC % time: the same per second of the round; allocated: heap allocated per sample (idle), and per telemetry message received (load: the round less its alarms at the idle cost).',
  );
  console.log(
    'other CPU %: CPU used on the host by processes other than this one and its load process while measuring (100 = one core); high values mean noisy numbers.',
  );
  console.log(
    'steal %: CPU the hypervisor gave other guests while this VM wanted it (/proc/stat; 100 = one core); high values mean the host, not the gateway, set the tail.',
  );
  if (alarm) {
    console.log('');
    console.log('Alarm latency by stage (ms; from the gateway bus events, same alarms)');
    console.log(stageTable(alarm, runs));
    for (const stage of STAGES) console.log(`  ${stage}: ${STAGE_TEXT[stage]}`);
    console.log('');
  }
  if (target) {
    console.log(
      `Target: alarm p99 under load <= ${target.limitMs} ms: ${target.valueMs.toFixed(2)} ms (worst run ${target.worstRunMs.toFixed(2)} ms) -> ${target.pass ? 'PASS' : 'MISS'}`,
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
    .filter((run) => run.otherCpuPercent > 20).length;
  if (noisy > 0)
    console.log(`Note: in ${noisy} round(s) other processes used more than 20 % CPU: those numbers are noisy; rerun on a quiet host.`);
}
