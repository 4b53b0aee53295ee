/**
 * `npm run load` / `npm run soak`: many WebSocket players from several processes against the real pipeline (its
 * own process), with a few REST players beside them, then a check of the Delta table against everything that was
 * acknowledged.
 *   npm run load -- --connections 5000 --seconds 60
 *   npm run soak -- --seconds 600            (load with abusive clients mixed in: see --help)
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
    'rest-players': { type: 'string', default: '100' },
    processes: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '60' },
    interval: { type: 'string', default: '3' },
    batch: { type: 'string', default: '20' },
    abuse: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`Usage: npm run load -- [--connections 5000] [--rest-players 100] [--processes 2] [--seconds 60] [--interval 3] [--batch 20] [--abuse]
       npm run soak -- [same options; --abuse and 600 s by default]
Each connection sends a batch every --interval seconds (±50%); each REST player posts one event or a batch as often.
--abuse mixes in malformed frames, frames past 128 KiB, mid-batch disconnects (the client reconnects and re-sends),
bad REST requests (malformed, oversized, without or with a forged token, a batch with an invalid event) and one
flooding player per process, which the rate limit (lowered to 1,000 events/s, burst 5,000) must slow down.
At the end the table must hold every acked event exactly once, and every bad request must have had its answer.`);
  process.exit(0);
}
const connections = Number(values.connections);
const processes = Number(values.processes);
const seconds = Number(values.seconds);
const restPlayers = Number(values['rest-players']);
const WORKER = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

const dir = tempDir('telemetry-load-');
const limits = values.abuse ? ['--rate-limit', '1000', '--rate-burst', '5000'] : [];
const server = await startServerProcess(['--port', '0', '--data-dir', dir.path, '--max-connections-per-player', '100', ...limits]);
const players = Math.ceil(connections / 50);
const login = async () => {
  const tokens = (await (await fetch(`${server.url}login-as-guest`)).json()) as { auth_token: string; refresh_token: string };
  return { auth: tokens.auth_token, refresh: tokens.refresh_token };
};
const credentials: Array<{ auth: string; refresh: string }> = [];
for (let i = 0; i < players; i++) credentials.push(await login());
const flooders: typeof credentials = [];
if (values.abuse) for (let p = 0; p < processes; p++) flooders.push(await login());
console.log(`pipeline at ${server.url}; ${connections} connections (${players} players) and ${restPlayers} REST players from ${processes} processes for ${seconds} s${values.abuse ? ', with abuse' : ''}`);

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
    const shareOf = (n: number) => Math.floor(n / processes) + (p < n % processes ? 1 : 0);
    const config = {
      url: server.url,
      players: credentials.filter((_, i) => i % processes === p),
      flooder: flooders[p],
      sockets: shareOf(connections),
      restPlayers: shareOf(restPlayers),
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
      acked: string[]; ackedCounts: number[]; latencies: number[]; p99ByMinute: number[]; resentLatencies: number[]; restAnswered: number; restLatencies: number[];
      errors: Record<string, number>; abuse: Record<string, number>; unexpected: string[];
      opened: number; refused: number; reconnects: number; malformedSent: number;
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

const acked = results.flatMap((r) => r.acked);
const ackedCounts = results.flatMap((r) => r.ackedCounts);
const ackedEvents = ackedCounts.reduce((a, b) => a + b, 0);
const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
const resentLatencies = results.flatMap((r) => r.resentLatencies).sort((a, b) => a - b);
const restLatencies = results.flatMap((r) => r.restLatencies).sort((a, b) => a - b);
const unexpected = results.flatMap((r) => r.unexpected);
const sum = (key: 'errors' | 'abuse') => {
  const total: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r[key])) total[k] = (total[k] ?? 0) + v;
  return total;
};
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
const lost = ackedEvents - found;
await closeDuckDb();
const firstHalf = rssSamples.slice(0, Math.floor(rssSamples.length / 2));
const secondHalf = rssSamples.slice(Math.floor(rssSamples.length / 2));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

console.log(`connections opened ${results.reduce((s, r) => s + r.opened, 0)}, refused ${results.reduce((s, r) => s + r.refused, 0)}, reconnects ${results.reduce((s, r) => s + r.reconnects, 0)}, malformed frames sent ${results.reduce((s, r) => s + r.malformedSent, 0)}`);
console.log(`acked ${ackedEvents.toLocaleString('en-US')} events in ${elapsed.toFixed(0)} s = ${Math.round(ackedEvents / elapsed).toLocaleString('en-US')} events/s; ack latency (first sends) p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms (goal < 100 ms)`);
const minuteP99 = Array.from({ length: Math.max(...results.map((r) => r.p99ByMinute.length)) }, (_, m) =>
  Math.max(...results.map((r) => r.p99ByMinute[m] ?? 0)).toFixed(0),
);
if (minuteP99.length > 1) console.log(`ack p99 by minute, worst of the load processes (ms): ${minuteP99.join(', ')}`);
if (resentLatencies.length > 0) {
  console.log(`batches re-sent after a reconnect, from re-send to ack: p50 ${percentile(resentLatencies, 50).toFixed(1)} ms, p99 ${percentile(resentLatencies, 99).toFixed(1)} ms`);
}
if (restLatencies.length > 0) {
  console.log(`REST requests answered 200: ${results.reduce((s, r) => s + r.restAnswered, 0).toLocaleString('en-US')}, p50 ${percentile(restLatencies, 50).toFixed(1)} ms, p99 ${percentile(restLatencies, 99).toFixed(1)} ms (from the first try)`);
}
console.log(`error frames and refusals: ${JSON.stringify(sum('errors'))}`);
if (values.abuse) console.log(`abuse sent: ${JSON.stringify(sum('abuse'))}`);
for (const line of unexpected) console.log(`UNEXPECTED: ${line}`);
console.log(`server RSS max ${maxRss.toFixed(0)} MiB; mean first half ${mean(firstHalf).toFixed(0)} MiB, second half ${mean(secondHalf).toFixed(0)} MiB; exit code ${code}`);
// A leak shows as a climb from minute to minute after the first, when the connections have been opened.
const minutes = Array.from({ length: Math.ceil(rssSamples.length / 60) }, (_, m) => mean(rssSamples.slice(m * 60, m * 60 + 60)).toFixed(0));
if (minutes.length > 1) console.log(`server RSS mean by minute (MiB): ${minutes.join(', ')}`);
console.log(`table: ${rowCount.toLocaleString('en-US')} rows; acked events lost ${lost}; stored twice ${twice}`);
dir.remove();
process.exitCode = lost === 0 && twice === 0 && code === 0 && unexpected.length === 0 ? 0 : 1;
