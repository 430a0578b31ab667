// A scenario report as text: verdict, each expectation with what was seen, step errors, and the gateway's last words on failure.
import { formatDuration } from '../common/duration.js';
import type { ScenarioReport } from './runner.js';

export function formatReport(r: ScenarioReport): string {
  const lines = [
    `${r.passed ? 'PASS' : 'FAIL'}  ${r.name}  (${r.source}, ${formatDuration(r.durationMs)}; ${r.devices} devices, ${r.smsCount} SMS)`,
  ];
  if (r.description) lines.push(`      ${r.description.trim().split('\n')[0] ?? ''}`);
  if (r.interrupted) lines.push('  ✗ interrupted before the end: the results below are incomplete');
  if (r.setupError) lines.push(`  ✗ set-up failed: ${r.setupError.split('\n').join('\n    ')}`);
  for (const res of r.results) lines.push(`  ${res.passed ? '✓' : '✗'} ${res.label}${res.detail ? ` — ${res.detail}` : ''}`);
  for (const e of r.stepErrors) lines.push(`  ✗ step failed: ${e}`);
  if (r.gatewayExit) lines.push(`  ✗ the gateway exited during the run (${r.gatewayExit})`);
  if (!r.passed && r.gatewayStderr.trim()) {
    lines.push('  gateway stderr (last lines):');
    for (const l of r.gatewayStderr.split('\n')) lines.push(`    ${l}`);
  }
  if (r.dataDir) lines.push(`  data kept in ${r.dataDir}`);
  return lines.join('\n');
}

export function formatSummary(reports: readonly ScenarioReport[]): string {
  const failed = reports.filter((r) => !r.passed);
  return failed.length === 0
    ? `${reports.length} scenario(s) passed`
    : `${failed.length} of ${reports.length} scenario(s) failed: ${failed.map((r) => r.name).join(', ')}`;
}
