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
import { restLoad, wsLoad } from './load.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    sockets: { type: 'string', default: '16' },
    'in-flight': { type: 'string', default: '4' },
    batch: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '32' },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`Usage: npm run bench -- [--seconds 10] [--sockets 16] [--in-flight 4] [--batch 100] [--concurrency 32] [--only ws|rest]

WebSocket: real pipeline (durable acks) vs a bare ws server that parses and replies.
REST:      real pipeline POST /put-record (keep-alive) vs a bare HTTP server that parses the body.`);
  process.exit(0);
}
const seconds = Number(values.seconds);
const sockets = Number(values.sockets);
const inFlight = Number(values['in-flight']);
const batch = Number(values.batch);
const concurrency = Number(values.concurrency);

const SERVER = fileURLToPath(new URL('./bench-server.ts', import.meta.url));

async function withServer<T>(mode: string, run: (url: string) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'telemetry-bench-'));
  const child = spawn(process.env.BENCH_SERVER_WRAPPER ?? process.execPath, [...(process.env.BENCH_SERVER_WRAPPER ? [] : ['--import', 'tsx']), SERVER, mode, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (chunk) => resolve(String(chunk).trim().split('\n')[0]!));
      child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
    });
    return await run(url);
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
if (values.only !== 'rest') {
  const shape = { batch, inFlight, seconds };
  const baseline = await withServer('bare-ws', (url) =>
    wsLoad({ ...shape, label: 'WS baseline (bare ws, parse+reply)', url: url.replace(/^http/, 'ws'), tokens: Array(sockets).fill('none') }),
  );
  const pipeline = await withServer('pipeline', async (url) => {
    const tokens = await Promise.all(Array.from({ length: sockets }, () => login(url)));
    return wsLoad({ ...shape, label: 'WS pipeline (durable acks)', url: url.replace(/^http/, 'ws'), tokens });
  });
  report(`WebSocket: ${sockets} sockets × ${inFlight} batches in flight × ${batch} events`);
  report(row(baseline, 'events'));
  report(row(pipeline, 'events'));
  const ratio = pipeline.perSecond / baseline.perSecond;
  report(`  pipeline / baseline = ${(ratio * 100).toFixed(0)}% (goal ≥ 30%) ${ratio >= 0.3 ? 'met' : 'NOT MET'}`);
}
if (values.only !== 'ws') {
  const baseline = await withServer('bare-http', (url) => restLoad({ label: 'REST baseline (bare http, parse)', url, token: 'none', concurrency, seconds }));
  const pipeline = await withServer('pipeline', async (url) =>
    restLoad({ label: 'REST pipeline POST /put-record', url, token: await login(url), concurrency, seconds }),
  );
  report(`REST: ${concurrency} keep-alive connections, one event per request`);
  report(row(baseline, 'req'));
  report(row(pipeline, 'req'));
  const ratio = pipeline.perSecond / baseline.perSecond;
  report(`  pipeline / baseline = ${(ratio * 100).toFixed(0)}% (goal ≥ 50%) ${ratio >= 0.5 ? 'met' : 'NOT MET'}`);
}
