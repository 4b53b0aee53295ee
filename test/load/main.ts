/**
 * `npm run load` / `npm run soak`: many WebSocket players from several processes against the real pipeline (its
 * own process), then a check of the Delta table against everything that was acknowledged.
 *   npm run load -- --connections 5000 --seconds 60
 *   npm run soak -- --seconds 600            (load with malformed frames and mid-batch disconnects mixed in)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { percentile } from '../bench/load.ts';
import { exited, startServerProcess } from '../support/server-process.ts';
import { tempDir } from '../support/local.ts';
import { closeDuckDb, duckdb } from '../../runtime/delta/duckdb.ts';
import { createSnapshotView } from '../../runtime/delta/query-view.ts';
import { loadSnapshot } from '../../runtime/delta/snapshot.ts';
import { eventsTablePath } from '../../runtime/local/delta-writer/events-table.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '5000' },
    processes: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '60' },
    interval: { type: 'string', default: '3' },
    batch: { type: 'string', default: '20' },
    abuse: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`Usage: npm run load -- [--connections 5000] [--processes 2] [--seconds 60] [--interval 3] [--batch 20] [--abuse]
       npm run soak -- [same options; --abuse and 600 s by default]
Each connection sends a batch every --interval seconds (±50%). --abuse mixes in malformed frames and mid-batch
disconnects (the client reconnects and re-sends). At the end the table must hold every acked event exactly once.`);
  process.exit(0);
}
const connections = Number(values.connections);
const processes = Number(values.processes);
const seconds = Number(values.seconds);
const WORKER = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

const dir = tempDir('telemetry-load-');
const server = await startServerProcess(['--port', '0', '--data-dir', dir.path, '--max-connections-per-player', '100']);
const players = Math.ceil(connections / 50);
const tokens: string[] = [];
for (let i = 0; i < players; i++) tokens.push(((await (await fetch(`${server.url}login-as-guest`)).json()) as { auth_token: string }).auth_token);
console.log(`pipeline at ${server.url}; ${connections} connections (${players} players) from ${processes} processes for ${seconds} s${values.abuse ? ', with abuse' : ''}`);

let maxRss = 0;
const rssSamples: number[] = [];
const sampler = setInterval(() => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'));
  const rss = match ? Number(match[1]) / 1024 : 0;
  maxRss = Math.max(maxRss, rss);
  rssSamples.push(rss);
}, 1000);
const progress = setInterval(async () => {
  const health = (await (await fetch(`${server.url}health`)).json()) as { connections: number; stream: { lastPosition: number }; delta_writer: { lag: number } };
  console.log(`  ${health.connections} connections, stream at ${health.stream.lastPosition}, writer lag ${health.delta_writer.lag}, RSS ${rssSamples.at(-1)?.toFixed(0)} MiB`);
}, 10_000);

const started = performance.now();
const results = await Promise.all(
  Array.from({ length: processes }, (_, p) => {
    const share = Math.floor(connections / processes) + (p < connections % processes ? 1 : 0);
    const config = {
      url: server.url,
      tokens: tokens.filter((_, i) => i % processes === p),
      sockets: share,
      seconds,
      intervalMs: Number(values.interval) * 1000,
      batch: Number(values.batch),
      abuse: values.abuse,
      name: `w${p}`,
    };
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    return exited(child).then(() => JSON.parse(output) as {
      acked: string[]; latencies: number[]; resentLatencies: number[]; errors: Record<string, number>; opened: number; refused: number; reconnects: number; malformedSent: number;
    });
  }),
);
const elapsed = (performance.now() - started) / 1000;
clearInterval(progress);

// The writer catches up, then the pipeline stops cleanly and the table is checked.
for (;;) {
  const health = (await (await fetch(`${server.url}health`)).json()) as { delta_writer: { lag: number } };
  if (health.delta_writer.lag === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 200));
}
clearInterval(sampler);
server.child.kill('SIGTERM');
const { code } = await exited(server.child);

const batch = Number(values.batch);
const acked = results.flatMap((r) => r.acked);
const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
const resentLatencies = results.flatMap((r) => r.resentLatencies).sort((a, b) => a - b);
const errors: Record<string, number> = {};
for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
// Millions of rows: the check runs in DuckDB over the table's snapshot, not in JavaScript.
const connection = await duckdb();
// The pipeline has stopped, so the check may take the memory the pipeline's own DuckDB is kept from: the distinct
// event ids of a 10-minute soak (20 million) outgrow the 256 MB the shared instance is given.
await connection.run(`SET memory_limit = '8GB'`);
await createSnapshotView(connection, 'events', await loadSnapshot(eventsTablePath(dir.path)));
await connection.run('CREATE TEMP TABLE acked (id VARCHAR)');
const appender = await connection.createAppender('acked', 'main', 'temp');
for (const id of acked) {
  appender.appendVarchar(id);
  appender.endRow();
}
appender.closeSync();
const count = async (sql: string) => Number((await connection.runAndReadAll(sql)).getRows()[0]![0]);
const rowCount = await count('SELECT count(*) FROM events');
const twice = rowCount - (await count('SELECT count(DISTINCT event_id) FROM events'));
const found = await count(
  `SELECT count(DISTINCT e.event_id) FROM events e JOIN acked a ON regexp_replace(e.event_id, '-[0-9]+$', '') = a.id`,
);
const lost = acked.length * batch - found;
await closeDuckDb();
const firstHalf = rssSamples.slice(0, Math.floor(rssSamples.length / 2));
const secondHalf = rssSamples.slice(Math.floor(rssSamples.length / 2));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

console.log(`connections opened ${results.reduce((s, r) => s + r.opened, 0)}, refused ${results.reduce((s, r) => s + r.refused, 0)}, reconnects ${results.reduce((s, r) => s + r.reconnects, 0)}, malformed frames sent ${results.reduce((s, r) => s + r.malformedSent, 0)}`);
console.log(`acked ${(acked.length * batch).toLocaleString('en-US')} events in ${elapsed.toFixed(0)} s = ${Math.round((acked.length * batch) / elapsed).toLocaleString('en-US')} events/s; ack latency (first sends) p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms (goal < 100 ms)`);
if (resentLatencies.length > 0) {
  console.log(`batches re-sent after a reconnect, from re-send to ack: p50 ${percentile(resentLatencies, 50).toFixed(1)} ms, p99 ${percentile(resentLatencies, 99).toFixed(1)} ms`);
}
console.log(`error frames: ${JSON.stringify(errors)}`);
console.log(`server RSS max ${maxRss.toFixed(0)} MiB; mean first half ${mean(firstHalf).toFixed(0)} MiB, second half ${mean(secondHalf).toFixed(0)} MiB; exit code ${code}`);
console.log(`table: ${rowCount.toLocaleString('en-US')} rows; acked events lost ${lost}; stored twice ${twice}`);
dir.remove();
process.exitCode = lost === 0 && twice === 0 && code === 0 ? 0 : 1;
