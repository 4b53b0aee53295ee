/**
 * The Delta writer on its own: a hub stream is filled with packed records shaped like the WebSocket intake's
 * (`--record-rows` events per record, a handful of players), then the writer drains it. What counts is the cost
 * per row: CPU time (process.cpuUsage from the writer's start to its drain, which includes DuckDB's native threads
 * and SQLite) is the figure to compare, since other work on the machine moves it far less than wall time; rows/s
 * (wall) and the process's peak RSS are reported beside it. Rows are those read, re-sends included. On a shared
 * machine even CPU time varies by ±20 % between runs: compare medians of several runs, better interleaved.
 *
 * Each run is a fresh process, so runs do not share a heap, a DuckDB instance or a page cache of earlier tables.
 * After the run the table is read back: every distinct event exactly once, or the run fails.
 * Run directly (`npx tsx test/bench/writer.ts --help`) or as `npm run bench -- --only writer`.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_DEDUP_WINDOW_MS } from '../../runtime/core/dedup-key.ts';
import { formatEpochMs } from '../../runtime/core/timestamp.ts';
import { closeDuckDb, openDuckDbConnection } from '../../runtime/delta/duckdb.ts';
import { sqlString } from '../../runtime/delta/parquet-writer.ts';
import { dataFilePath, loadSnapshot } from '../../runtime/delta/snapshot.ts';
import { dataPaths } from '../../runtime/local/data-paths.ts';
import { startDeltaWriter } from '../../runtime/local/delta-writer/delta-writer.ts';
import { eventsTablePath } from '../../runtime/local/delta-writer/events-table.ts';
import { HubStream } from '../../runtime/local/stream/hub-stream.ts';

export interface WriterBenchOptions {
  /** Distinct events in the stream (re-sends come on top). */
  readonly rows: number;
  readonly runs: number;
  /** Events per hub record: the WebSocket bench sends batches of 100, each packed into one record. */
  readonly recordRows: number;
  readonly players: number;
  /** Fraction of records re-sent later (same events, later received_at): the dedup rule drops them. */
  readonly duplicates: number;
  /** When set, each run writes a V8 CPU profile into this directory. */
  readonly profileDir?: string;
}

export interface WriterRunResult {
  readonly rows: number;
  readonly rowsWritten: number;
  readonly duplicatesDropped: number;
  readonly tableRows: number;
  readonly commits: number;
  readonly seconds: number;
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  readonly maxRssMiB: number;
}

export interface WriterBenchSummary {
  readonly runs: readonly WriterRunResult[];
  readonly cpuMicrosPerRow: readonly number[];
  readonly rowsPerSecond: readonly number[];
}

const SELF = fileURLToPath(import.meta.url);
const EVENT_TYPES = ['Login', 'Logout', 'New Game', 'Resume Game', 'End Game'];
const EVENT_DATA = 'The only thing we have to fear is fear itself.';

/** Runs `options.runs` measurements, each in a child process, and reports one line per run plus a summary. */
export async function writerBench(options: WriterBenchOptions, report: (line: string) => void = console.log): Promise<WriterBenchSummary> {
  report(
    `Delta writer: ${options.rows.toLocaleString('en-US')} events in records of ${options.recordRows}, ${options.players} players, ` +
      `${(options.duplicates * 100).toFixed(0)}% of records re-sent; ${options.runs} runs, each a fresh process`,
  );
  const runs: WriterRunResult[] = [];
  for (let run = 0; run < options.runs; run++) {
    const result = await runChild(options);
    runs.push(result);
    report(
      `  run ${run + 1}: ${fmt(result.rows / result.seconds)} rows/s   CPU ${cpuPerRow(result).toFixed(2)} µs/row ` +
        `(user ${((result.cpuUserMs * 1000) / result.rows).toFixed(2)}, sys ${((result.cpuSystemMs * 1000) / result.rows).toFixed(2)})   ` +
        `RSS max ${result.maxRssMiB.toFixed(0)} MiB   ${result.commits} commits, ${fmt(result.rowsWritten)} written, ${fmt(result.duplicatesDropped)} dropped`,
    );
  }
  const cpuMicrosPerRow = runs.map(cpuPerRow);
  const rowsPerSecond = runs.map((run) => run.rows / run.seconds);
  report(
    `  CPU µs/row: median ${median(cpuMicrosPerRow).toFixed(2)} (${Math.min(...cpuMicrosPerRow).toFixed(2)}–${Math.max(...cpuMicrosPerRow).toFixed(2)})   ` +
      `rows/s: median ${fmt(median(rowsPerSecond))} (${fmt(Math.min(...rowsPerSecond))}–${fmt(Math.max(...rowsPerSecond))})   ` +
      `= ${fmt(1e6 / median(cpuMicrosPerRow))} rows per CPU-second`,
  );
  return { runs, cpuMicrosPerRow, rowsPerSecond };
}

function cpuPerRow(result: WriterRunResult): number {
  return ((result.cpuUserMs + result.cpuSystemMs) * 1000) / result.rows;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function fmt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

async function runChild(options: WriterBenchOptions): Promise<WriterRunResult> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SELF, '--child', JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = output.trim().split('\n').at(-1);
  if (code !== 0 || line === undefined || !line.startsWith('{')) throw new Error(`the writer bench run failed (exit ${code}): ${output}`);
  return JSON.parse(line) as WriterRunResult;
}

/** One measurement, in this process: fill, then time the writer from start to drained. */
async function measure(options: WriterBenchOptions): Promise<WriterRunResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'telemetry-writer-bench-'));
  try {
    const stream = HubStream.open({ path: dataPaths(dataDir).stream, retentionMs: 30 * DEFAULT_DEDUP_WINDOW_MS, trimIntervalMs: 0 });
    const resent = await fill(stream, options);
    // The process-wide DuckDB instance is created once per process, not per batch: keep it out of the figure.
    (await openDuckDbConnection()).closeSync();
    (globalThis as { gc?: () => void }).gc?.();

    const profiler = options.profileDir === undefined ? undefined : await startProfiler();
    perfControl('enable');
    let maxRss = process.memoryUsage.rss();
    const sampler = setInterval(() => (maxRss = Math.max(maxRss, process.memoryUsage.rss())), 20);
    const cpu = process.cpuUsage();
    const started = performance.now();
    const writer = await startDeltaWriter({ stream, dataDir, dedupWindowMs: DEFAULT_DEDUP_WINDOW_MS, idlePollMs: 50, logError: console.error });
    await writer.drain();
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    perfControl('disable');
    clearInterval(sampler);
    if (profiler !== undefined) await profiler.stop(options.profileDir!);
    maxRss = Math.max(maxRss, process.memoryUsage.rss());

    const status = writer.status();
    await writer.close();
    await stream.close();
    // A fast writer that stores the wrong rows is no result at all: the data files must hold each event once.
    const tablePath = eventsTablePath(dataDir);
    const files = (await loadSnapshot(tablePath)).files.map((add) => sqlString(dataFilePath(tablePath, add.path)));
    const connection = await openDuckDbConnection();
    const counted = await connection.runAndReadAll(
      `SELECT count(*)::INTEGER AS n, count(DISTINCT (player_id, event_id, updated_at))::INTEGER AS keys FROM read_parquet([${files.join(', ')}])`,
    );
    connection.closeSync();
    await closeDuckDb();
    const { n: tableRows, keys } = counted.getRowObjects()[0] as { n: number; keys: number };
    if (status.rowsWritten !== options.rows || tableRows !== options.rows || keys !== options.rows || status.duplicatesDropped !== resent || !status.healthy) {
      throw new Error(`wrong result: ${JSON.stringify({ expected: options.rows, resent, tableRows, keys, status })}`);
    }
    return {
      rows: options.rows + resent,
      rowsWritten: status.rowsWritten,
      duplicatesDropped: status.duplicatesDropped,
      tableRows,
      commits: status.commits,
      seconds,
      cpuUserMs: used.user / 1000,
      cpuSystemMs: used.system / 1000,
      maxRssMiB: maxRss / 1048576,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Native profiles of the drain only (DuckDB, SQLite, GC, the kernel): with WRITER_BENCH_PERF_CONTROL set to a FIFO,
 * `perf record -D -1 --control fifo:<that FIFO>` samples from the drain's start to its end.
 */
function perfControl(command: 'enable' | 'disable'): void {
  const fifo = process.env.WRITER_BENCH_PERF_CONTROL;
  if (fifo !== undefined) writeFileSync(fifo, `${command}\n`);
}

/** The V8 profiler over the drain only (this thread: the writer's; DuckDB's own threads are not sampled). */
async function startProfiler(): Promise<{ stop(directory: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  return {
    async stop(directory) {
      const { profile } = (await post('Profiler.stop')) as { profile: object };
      session.disconnect();
      mkdirSync(directory, { recursive: true });
      writeFileSync(join(directory, `writer-${process.pid}.cpuprofile`), JSON.stringify(profile));
    },
  };
}

/** Appends the records (not measured); returns how many re-sent rows it added. */
async function fill(stream: HubStream, options: WriterBenchOptions): Promise<number> {
  const encoder = new TextEncoder();
  const players = Array.from({ length: options.players }, () => randomUUID());
  const resendEvery = options.duplicates > 0 ? Math.max(1, Math.round(1 / options.duplicates)) : 0;
  // Server time starts a minute ago and advances 50 µs per record, like a busy intake.
  const startMs = Date.now() - 60_000;
  let receivedMs = startMs;
  let resent = 0;
  let pending: Array<{ partitionKey: string; data: Uint8Array }> = [];
  // The client's clock: a second behind the server, one record per 50 µs; a re-send carries the same times.
  const clientMs = (sequence: number) => startMs - 1000 + sequence * 0.05;
  const record = (player: string, sequence: number, count: number, received: string) => {
    let text = '';
    for (let i = 0; i < count; i++) {
      const line = {
        event_id: `${sequence}-${i}`,
        event_type: EVENT_TYPES[i % EVENT_TYPES.length],
        updated_at: formatEpochMs(clientMs(sequence) - i),
        event_data: EVENT_DATA,
        player_id: player,
        received_at: received,
        source: 'ws',
      };
      text += `${JSON.stringify(line)}\n`;
    }
    return { partitionKey: player, data: encoder.encode(text) };
  };
  const flush = async () => {
    const { failed } = await stream.append(pending);
    if (failed.length > 0) throw new Error(`could not fill the stream: ${JSON.stringify(failed[0])}`);
    pending = [];
  };
  const resends: Array<{ player: string; sequence: number; count: number }> = [];
  for (let sequence = 0, written = 0; written < options.rows; sequence++) {
    const count = Math.min(options.recordRows, options.rows - written);
    const player = players[sequence % players.length]!;
    pending.push(record(player, sequence, count, formatEpochMs((receivedMs += 0.05))));
    written += count;
    if (resendEvery > 0 && sequence % resendEvery === 0) resends.push({ player, sequence, count });
    // A client re-sends what was not acked a little later: a few records further on, with a new received_at.
    if (resends.length > 0 && sequence - resends[0]!.sequence >= 20) {
      const again = resends.shift()!;
      pending.push(record(again.player, again.sequence, again.count, formatEpochMs((receivedMs += 0.05))));
      resent += again.count;
    }
    if (pending.length >= 500) await flush();
  }
  for (const again of resends) {
    pending.push(record(again.player, again.sequence, again.count, formatEpochMs((receivedMs += 0.05))));
    resent += again.count;
  }
  if (pending.length > 0) await flush();
  return resent;
}

export const WRITER_BENCH_DEFAULTS: WriterBenchOptions = { rows: 300_000, runs: 5, recordRows: 100, players: 16, duplicates: 0.05 };

if (process.argv[1] === SELF) {
  if (process.argv[2] === '--child') {
    const result = await measure(JSON.parse(process.argv[3]!) as WriterBenchOptions);
    console.log(JSON.stringify(result));
    process.exit(0);
  }
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: String(WRITER_BENCH_DEFAULTS.rows) },
      runs: { type: 'string', default: String(WRITER_BENCH_DEFAULTS.runs) },
      'record-rows': { type: 'string', default: String(WRITER_BENCH_DEFAULTS.recordRows) },
      players: { type: 'string', default: String(WRITER_BENCH_DEFAULTS.players) },
      duplicates: { type: 'string', default: String(WRITER_BENCH_DEFAULTS.duplicates) },
      profile: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(`Usage: npx tsx test/bench/writer.ts [--rows 300000] [--runs 5] [--record-rows 100] [--players 16]
                                    [--duplicates 0.05] [--profile DIR]

Fills a hub stream, then times the Delta writer draining it: CPU µs per row (all threads, DuckDB's included),
rows/s and peak RSS, one fresh process per run. --profile writes a V8 CPU profile of each run's drain into DIR
(open it in Chrome DevTools; profiling itself slows the run, so do not compare its figures). For native code,
set WRITER_BENCH_PERF_CONTROL to a FIFO and run the child under perf record -D -1 --control fifo:<FIFO>.`);
    process.exit(0);
  }
  await writerBench({
    rows: Number(values.rows),
    runs: Number(values.runs),
    recordRows: Number(values['record-rows']),
    players: Number(values.players),
    duplicates: Number(values.duplicates),
    ...(values.profile === undefined ? {} : { profileDir: values.profile }),
  });
}
