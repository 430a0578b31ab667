// The report of the capacity benchmarks (ingest throughput, idle connections, alarm storm): one table and the target lines under it.
import type { ConnectionsResult } from '../connections.js';
import type { IngestResult } from '../ingest.js';
import type { StormResult } from '../storm.js';
import { formatNumber, formatSpread, renderTable } from './table.js';

export interface CapacityResults {
  ingest: IngestResult | null;
  connections: ConnectionsResult | null;
  storm: StormResult | null;
}

export function printCapacityReport(r: CapacityResults): void {
  const rows: string[][] = [];
  const { ingest, connections, storm } = r;
  if (ingest) {
    const runs = ingest.gateway.rounds.length;
    rows.push([
      'ingest_qos1_msgs_per_s',
      `${ingest.setup.devices} devices x ${ingest.setup.inFlightPerDevice} in flight, ${runs}x${ingest.setup.runMs / 1000} s`,
      formatSpread(ingest.gateway.msgsPerSec, 0, runs),
      'PUBLISH -> PUBACK (durably recorded) and acted on by rules',
    ]);
    rows.push([
      'raw_aedes_qos1_msgs_per_s',
      'same clients and messages',
      formatSpread(ingest.aedes.msgsPerSec, 0, runs),
      'PUBLISH -> PUBACK, bare aedes',
    ]);
    rows.push([
      'ingest_ratio',
      'gateway / bare aedes',
      ingest.ingest_ratio.toFixed(2),
      `target >= ${ingest.target.limit}: ${ingest.target.pass ? 'PASS' : 'MISS'}`,
    ]);
  }
  if (connections) {
    const runs = connections.gateway.rounds.length;
    rows.push([
      'connections kB/device',
      `${connections.devices} idle devices, ${runs} round(s)`,
      `${connections.kb_per_device.toFixed(2)}`,
      `gateway ${formatSpread(connections.gateway.rssKbPerDevice, 2, runs)} - aedes ${formatSpread(connections.aedes.rssKbPerDevice, 2, runs)} kB RSS; target <= ${connections.target.limitKb}: ${connections.target.pass ? 'PASS' : 'MISS'}`,
    ]);
    rows.push([
      'connections heap kB/device',
      'same',
      connections.heap_kb_per_device.toFixed(2),
      `gateway ${formatSpread(connections.gateway.heapKbPerDevice, 2, runs)} - aedes ${formatSpread(connections.aedes.heapKbPerDevice, 2, runs)} kB heap; gateway RSS ${formatNumber(connections.rss_mb)} MiB`,
    ]);
  }
  if (storm) {
    rows.push([
      'storm',
      `${storm.alarms} SOS from ${storm.alarms} buttons in ${storm.seconds} s (sent over ${storm.sent_over_s.toFixed(1)} s)`,
      `lost ${storm.lost}`,
      `${storm.incidents_opened} incidents; open p50 ${storm.open_ms.p50.toFixed(1)} / p99 ${storm.open_ms.p99.toFixed(1)} / max ${storm.open_ms.max.toFixed(1)} ms; ${storm.opened_within_1s} within 1 s; ${storm.target.pass ? 'PASS' : 'MISS'}`,
    ]);
    rows.push([
      'storm SMS',
      `${storm.sms_sent} SMS to the simulator`,
      `${storm.sms_drain_s.toFixed(1)} s`,
      'first PUBLISH -> every page at the simulator, SMS queue empty',
    ]);
  }
  if (rows.length === 0) return;
  console.log('');
  console.log('Capacity (median of runs (min-max) where repeated)');
  console.log(renderTable([{ title: 'benchmark' }, { title: 'condition' }, { title: 'value', align: 'right' }, { title: 'notes' }], rows));
  for (const note of connections?.notes ?? []) console.log(`  connections: ${note}`);
  if (storm)
    console.log(
      '  storm: PUBLISH time taken by the client just before the send, open time at the gateway\'s incidentChanged("opened") event after commit; both timeOrigin + performance.now() on this host.',
    );
}
