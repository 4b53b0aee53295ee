import type { Summary } from './run.ts';

/** The end-of-run summary for people. */
export function formatSummary(summary: Summary): string {
  const lines: string[] = [];
  const n = (value: number): string => value.toLocaleString('en-US');
  const mode = summary.dryRun ? 'dry run' : summary.transport;
  lines.push(`synthetic (${mode}, ${summary.players} player${summary.players === 1 ? '' : 's'})${summary.interrupted ? ', interrupted' : ''}`);
  lines.push(`  generated      ${n(summary.generated)}`);
  if (!summary.dryRun) {
    lines.push(`  sent           ${n(summary.sent)}`);
    lines.push(`  acked          ${n(summary.acked)}`);
    const codes = Object.entries(summary.rejectedByCode).map(([code, count]) => `${code}: ${n(count)}`);
    lines.push(`  rejected       ${n(summary.rejected)}${codes.length > 0 ? ` (${codes.join(', ')})` : ''}`);
    if (summary.unacked > 0) lines.push(`  unacked        ${n(summary.unacked)}`);
    lines.push(`  resent batches ${n(summary.resentBatches)}`);
    lines.push(`  reconnects     ${n(summary.reconnects)}`);
    if (summary.retryableErrors > 0) lines.push(`  retried errors ${n(summary.retryableErrors)}`);
  }
  lines.push(`  elapsed        ${(summary.elapsedMs / 1000).toFixed(2)} s`);
  lines.push(`  events/s       ${n(Math.round(summary.eventsPerSecond))}`);
  if (!summary.dryRun) {
    const { p50, p99, max, batches } = summary.ackLatencyMs;
    lines.push(`  ack latency    p50 ${p50} ms, p99 ${p99} ms, max ${max} ms (${n(batches)} batches)`);
  }
  if (summary.error !== undefined) lines.push(`error: ${summary.error}`);
  else if (summary.unacked > 0) lines.push(`error: ${n(summary.unacked)} events were never acknowledged.`);
  return lines.join('\n');
}
