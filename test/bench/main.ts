/**
 * `npm run bench`: intake throughput and latency beside a bare baseline measured in the same run, so the
 * ratio means something on a shared, noisy machine. Servers run in their own process; the load runs here.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LoadResult } from './load.ts';
import { endToEnd } from './end-to-end.ts';
import { restLoad, wsLoad } from './load.ts';
import { WRITER_BENCH_DEFAULTS, writerBench } from './writer.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    sockets: { type: 'string', default: '16' },
    'in-flight': { type: 'string', default: '4' },
    batch: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '32' },
    only: { type: 'string' },
    'e2e-seconds': { type: 'string', default: '60' },
    'e2e-rate': { type: 'string' },
    'writer-rows': { type: 'string', default: String(WRITER_BENCH_DEFAULTS.rows) },
    'writer-runs': { type: 'string', default: String(WRITER_BENCH_DEFAULTS.runs) },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`Usage: npm run bench -- [--seconds 10] [--sockets 16] [--in-flight 4] [--batch 100] [--concurrency 32]
                          [--e2e-seconds 60] [--e2e-rate N] [--writer-rows 300000] [--writer-runs 5]
                          [--only ws|rest|e2e|writer]

WebSocket: the real intake (durable acks, no consumers) vs a bare ws server that parses and replies.
REST:      the real intake POST /put-record (keep-alive) vs a bare HTTP server that parses the body.
e2e:       WebSocket intake with the Delta writer keeping up: events/s, freshness (ack → in the table), RSS.
           --e2e-rate offers that many events/s (open loop) instead of sending as fast as acks come.
writer:    the Delta writer alone draining a filled stream: CPU µs/row, rows/s, RSS (only with --only writer;
           more options: npx tsx test/bench/writer.ts --help).`);
  process.exit(0);
}
const seconds = Number(values.seconds);
const sockets = Number(values.sockets);
const inFlight = Number(values['in-flight']);
const batch = Number(values.batch);
const concurrency = Number(values.concurrency);

const SERVER = fileURLToPath(new URL('./bench-server.ts', import.meta.url));

async function withServer<T>(mode: string, run: (url: string, pid: number) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'telemetry-bench-'));
  const child = spawn(process.env.BENCH_SERVER_WRAPPER ?? process.execPath, [...(process.env.BENCH_SERVER_WRAPPER ? [] : ['--import', 'tsx']), SERVER, mode, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (chunk) => resolve(String(chunk).trim().split('\n')[0]!));
      child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
    });
    return await run(url, child.pid!);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function login(url: string): Promise<string> {
  const response = await fetch(`${url}login-as-guest`);
  return ((await response.json()) as { auth_token: string }).auth_token;
}

function row(result: LoadResult, unit: string): string {
  return `${result.label.padEnd(34)} ${Math.round(result.perSecond).toLocaleString('en-US').padStart(10)} ${unit}/s   p50 ${result.p50Ms.toFixed(2).padStart(7)} ms   p99 ${result.p99Ms.toFixed(2).padStart(7)} ms   errors ${result.errors}`;
}

const lines: string[] = [];
const report = (line: string) => {
  lines.push(line);
  console.log(line);
};

report(`Node ${process.version}, ${seconds}s per run`);
if (values.only === undefined || values.only === 'ws') {
  const shape = { batch, inFlight, seconds };
  const baseline = await withServer('bare-ws', (url) =>
    wsLoad({ ...shape, label: 'WS baseline (bare ws, parse+reply)', url: url.replace(/^http/, 'ws'), tokens: Array(sockets).fill('none') }),
  );
  const pipeline = await withServer('intake', async (url) => {
    const tokens = await Promise.all(Array.from({ length: sockets }, () => login(url)));
    return wsLoad({ ...shape, label: 'WS intake (durable acks)', url: url.replace(/^http/, 'ws'), tokens });
  });
  report(`WebSocket: ${sockets} sockets × ${inFlight} batches in flight × ${batch} events`);
  report(row(baseline, 'events'));
  report(row(pipeline, 'events'));
  const ratio = pipeline.perSecond / baseline.perSecond;
  report(`  intake / baseline = ${(ratio * 100).toFixed(0)}% (goal ≥ 30%) ${ratio >= 0.3 ? 'met' : 'NOT MET'}`);
}
if (values.only === undefined || values.only === 'rest') {
  const baseline = await withServer('bare-http', (url) => restLoad({ label: 'REST baseline (bare http, parse)', url, token: 'none', concurrency, seconds }));
  const pipeline = await withServer('intake', async (url) =>
    restLoad({ label: 'REST intake POST /put-record', url, token: await login(url), concurrency, seconds }),
  );
  report(`REST: ${concurrency} keep-alive connections, one event per request`);
  report(row(baseline, 'req'));
  report(row(pipeline, 'req'));
  const ratio = pipeline.perSecond / baseline.perSecond;
  report(`  intake / baseline = ${(ratio * 100).toFixed(0)}% (goal ≥ 50%) ${ratio >= 0.5 ? 'met' : 'NOT MET'}`);
}
if (values.only === undefined || values.only === 'e2e') {
  const e2eSeconds = Number(values['e2e-seconds']);
  const e2eRate = values['e2e-rate'] === undefined ? undefined : Number(values['e2e-rate']);
  const result = await withServer('pipeline', async (url, pid) => {
    const tokens = await Promise.all(Array.from({ length: sockets }, () => login(url)));
    return endToEnd({ url, pid, tokens, batch, inFlight, seconds: e2eSeconds, ...(e2eRate === undefined ? {} : { rate: e2eRate }) });
  });
  const offered = e2eRate === undefined ? 'as fast as acks come' : `${e2eRate.toLocaleString('en-US')} events/s offered`;
  report(`End to end: ${sockets} sockets × ${inFlight} batches in flight × ${batch} events, ${offered}, Delta window 5 s, ${e2eSeconds} s`);
  report(`  acked ${result.acked.toLocaleString('en-US')} events in ${result.seconds.toFixed(1)} s = ${Math.round(result.perSecond).toLocaleString('en-US')} events/s (goal ≥ 100,000) ${result.perSecond >= 100_000 ? 'met' : 'NOT MET'}`);
  report(`  ack latency p50 ${result.ackP50Ms.toFixed(1)} ms, p99 ${result.ackP99Ms.toFixed(1)} ms`);
  report(`  freshness (ack → in the table) p50 ${(result.freshnessP50Ms / 1000).toFixed(2)} s, p99 ${(result.freshnessP99Ms / 1000).toFixed(2)} s over ${result.freshnessSamples} samples (goal p99 ≤ 7 s) ${result.freshnessP99Ms <= 7000 ? 'met' : 'NOT MET'}`);
  report(`  writer lag max ${result.maxLag.toLocaleString('en-US')} records, ${result.finalLag.toLocaleString('en-US')} at the end, drained in ${(result.drainMs / 1000).toFixed(1)} s; table rows ${result.tableRows?.toLocaleString('en-US')}`);
  report(`  server RSS max ${result.maxRssMiB.toFixed(0)} MiB (goal ≤ 512) ${result.maxRssMiB <= 512 ? 'met' : 'NOT MET'}`);
}
if (values.only === 'writer') {
  await writerBench({ ...WRITER_BENCH_DEFAULTS, rows: Number(values['writer-rows']), runs: Number(values['writer-runs']) }, report);
}
