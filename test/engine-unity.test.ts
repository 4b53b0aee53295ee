// The Unity sample's C# core (clients/engines/unity/), compiled with Mono's mcs and run with mono against the real
// local pipeline: every event the sample sends must reach the Delta table exactly once, even when its socket is
// cut mid-session. TelemetryComponent.cs needs UnityEngine and is left out of the build.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestPipeline, storedRows, tempDir } from './support/local.ts';
import { type TableRow, closeDuckDb, tableRows } from './support/table.ts';
import { requireTool } from './support/tools.ts';

const UNITY_DIR = fileURLToPath(new URL('../clients/engines/unity/', import.meta.url));
/** What a Debian/Ubuntu machine needs for this test: the compiler and the runtime (System.dll comes with them). */
const MONO_PACKAGES = 'mono-mcs mono-runtime';
const UNITY_ONLY_FILES = new Set(['TelemetryComponent.cs']);
const LOGIN_DATA = 'The only thing we have to fear is fear itself.';

// ---------------------------------------------------------------------------------------------------------
// Mono: present, or the tests are skipped (locally) or fail (CI)

function missingMono(): string | undefined {
  for (const tool of ['mcs', 'mono']) {
    const probe = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    if (probe.error || probe.status !== 0) return `\`${tool}\` is not installed`;
  }
  return undefined;
}

const missing = missingMono();
// Locally a missing Mono skips these tests with a line saying what to install; in CI each fails, in sampleExe().
const monoTest = process.env.CI || requireTool(missing === undefined, 'Mono', MONO_PACKAGES) ? test : test.skip;

let compiled: Promise<string> | undefined;

/** Compiles the core and the sample once, into a temp dir; resolves to SampleGame.exe. */
function sampleExe(): Promise<string> {
  if (missing !== undefined) {
    return Promise.reject(new Error(`${missing}: CI must install Mono for the Unity sample's test: apt-get install -y ${MONO_PACKAGES}`));
  }
  compiled ??= (async () => {
    const out = tempDir('telemetry-unity-');
    const exe = join(out.path, 'SampleGame.exe');
    const core = readdirSync(UNITY_DIR).filter((name) => name.endsWith('.cs') && !UNITY_ONLY_FILES.has(name));
    const sources = [...core.map((name) => join(UNITY_DIR, name)), join(UNITY_DIR, 'Sample', 'SampleGame.cs')];
    // Warnings are errors: the sample is meant to be copied, so it should compile clean.
    const result = await run('mcs', ['-nologo', '-warn:4', '-warnaserror+', `-out:${exe}`, ...sources]);
    assert.is(result.code, 0, `mcs failed:\n${result.stdout}${result.stderr}`);
    process.once('exit', out.remove);
    return exe;
  })();
  return compiled;
}

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a program without blocking the event loop (the pipeline under test lives in this process), with proxy
 * variables removed: Mono's HttpWebRequest honours them, and loopback must not go through a proxy.
 */
function run(command: string, args: string[], timeoutMs = 30_000): Promise<Finished> {
  const env = { ...process.env };
  for (const name of ['http_proxy', 'https_proxy', 'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY']) delete env[name];
  const child: ChildProcess = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The sample's `name: value` summary lines. */
function summaryOf(output: Finished) {
  const field = (name: string) => {
    const match = new RegExp(`^${name}: (\\S+)$`, 'm').exec(output.stdout);
    assert.ok(match, `no "${name}:" line in the sample's output:\n${output.stdout}${output.stderr}`);
    return match[1]!;
  };
  return {
    playerId: field('player_id'),
    tracked: Number(field('tracked')),
    acked: Number(field('acked')),
    reconnects: Number(field('reconnects')),
    resentBatches: Number(field('resent_batches')),
    retryableErrors: Number(field('retryable_errors')),
  };
}

/** The events the sample sends: Login, `count` alternating CollectedItem / Killed Enemy, Logout (SampleGame.cs). */
function expectedTypeCounts(count: number): Record<string, number> {
  return { Login: 1, CollectedItem: Math.ceil(count / 2), 'Killed Enemy': Math.floor(count / 2), Logout: 1 };
}

function countBy(rows: readonly TableRow[], key: (row: TableRow) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const row of rows) counts[key(row)] = (counts[key(row)] ?? 0) + 1;
  return counts;
}

// ---------------------------------------------------------------------------------------------------------
// A relay the test can cut

/**
 * A TCP relay in front of the gateway's WebSocket, so the test can break a live socket the way a lost network
 * does: first the server's replies stop arriving (batches are stored, their acks lost), then the link dies.
 */
class CuttableRelay {
  private readonly links = new Set<{ client: Socket; upstream: Socket; muted: boolean }>();
  private readonly server: Server;

  constructor(targetPort: number) {
    this.server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
      const link = { client, upstream, muted: false };
      this.links.add(link);
      client.on('data', (data) => upstream.write(data));
      upstream.on('data', (data) => {
        if (!link.muted) client.write(data);
      });
      const drop = () => {
        this.links.delete(link);
        client.destroy();
        upstream.destroy();
      };
      for (const socket of [client, upstream]) {
        socket.on('error', drop);
        socket.on('close', drop);
      }
    });
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  /** Swallows the server's replies on the open links for `muteMs`, then destroys those links. */
  async cut(muteMs: number): Promise<number> {
    const victims = [...this.links];
    for (const link of victims) link.muted = true;
    await new Promise((resolve) => setTimeout(resolve, muteMs));
    for (const link of victims) {
      link.client.destroy();
      link.upstream.destroy();
    }
    return victims.length;
  }

  close(): Promise<void> {
    for (const link of this.links) link.client.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Tests

monoTest('the C# sample logs in as a guest and every event reaches the Delta table once, escaped text intact', async () => {
  const exe = await sampleExe();
  const env = await startTestPipeline();
  try {
    const events = 50;
    const output = await run('mono', [exe, env.url, String(events)]);
    assert.is(output.code, 0, `the sample failed:\n${output.stdout}${output.stderr}`);
    const summary = summaryOf(output);
    assert.is(summary.tracked, events + 2);
    assert.is(summary.acked, events + 2);

    await env.pipeline.deltaWriter!.drain();
    const rows = await tableRows(env.dataDir);
    assert.ok(rows.every((row) => row.player_id === summary.playerId), 'every row belongs to the player the sample printed');
    assert.is(rows.length, events + 2);
    assert.is(new Set(rows.map((row) => row.event_id)).size, rows.length, 'a unique event_id per event');
    assert.equal(countBy(rows, (row) => row.event_type), expectedTypeCounts(events));
    assert.ok(rows.every((row) => row.source === 'ws'));
    for (const row of rows) assert.match(row.updated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const started = Date.now() - 60_000;
    assert.ok(rows.every((row) => Date.parse(row.updated_at) > started), 'updated_at is the client clock, now, in UTC');

    // The event_data strings carry quotes, backslashes, tabs, newlines and non-ASCII text through the client's own
    // JSON escaping: they must come back exactly (SampleGame.cs builds them).
    const byType = (type: string) => rows.filter((row) => row.event_type === type);
    assert.is(byType('Login')[0]?.event_data, LOGIN_DATA);
    const items = byType('CollectedItem').map((row) => JSON.parse(row.event_data!));
    assert.equal(items.map((item) => item.n).sort((a, b) => a - b), Array.from({ length: events / 2 }, (_, i) => i * 2));
    for (const item of items) {
      assert.equal({ ...item, n: 0 }, { item: 'Potion of "Haste"', path: 'C:\\loot\\chest', note: 'tab\there, line\nbreak, é 宝 🎮', n: 0 });
    }
    const kills = byType('Killed Enemy').map((row) => row.event_data!).sort();
    const expectedKills = Array.from({ length: events / 2 }, (_, i) => `Goblin #${i * 2 + 1} says "ouch"\tand drops \\ a 🪙`).sort();
    assert.equal(kills, expectedKills);
  } finally {
    await closeDuckDb();
    await env.stop();
  }
});

monoTest('sockets cut mid-session (lost acks, then a dead link; and the 2-hour limit, shortened): re-sent, stored once', async () => {
  const exe = await sampleExe();
  // The gateway ends every connection after 1.5 s, as API Gateway does after 2 hours, often with acks in flight.
  const env = await startTestPipeline({ wsMaxConnectionMs: 1500 });
  const relay = new CuttableRelay(env.pipeline.gateway.port);
  try {
    const relayUrl = await relay.listen();
    const events = 400;
    const sample = run('mono', [
      exe, env.url, String(events),
      '--duration-ms', '4000', '--batch-size', '20', '--flush-ms', '50',
      // Identity goes straight to the pipeline; only the WebSocket goes through the relay (as on AWS, two URLs).
      '--ws-url', relayUrl,
    ]);
    // Once events flow, lose the acks of whatever is sent for half a second, then kill the link.
    const flowing = Date.now() + 15_000;
    while (env.pipeline.stream.lastPosition() < 3) {
      if (Date.now() > flowing) {
        const early = await sample;
        assert.unreachable(`no events reached the stream:\n${early.stdout}${early.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const cut = await relay.cut(500);
    assert.is(cut, 1, 'one socket per game session');

    const output = await sample;
    assert.is(output.code, 0, `the sample failed:\n${output.stdout}${output.stderr}`);
    const summary = summaryOf(output);
    assert.is(summary.acked, events + 2);
    assert.ok(summary.reconnects >= 2, `a reconnect after the cut and after the time limit: ${summary.reconnects}`);
    assert.ok(summary.resentBatches >= 1, 'the batches whose acks were lost were sent again');

    await env.pipeline.deltaWriter!.drain();
    const streamed = storedRows(env.pipeline.stream).filter((row) => row.player_id === summary.playerId);
    assert.ok(streamed.length > events + 2, `the re-sends reached the hub stream twice (${streamed.length} rows)`);
    const rows = (await tableRows(env.dataDir)).filter((row) => row.player_id === summary.playerId);
    assert.is(rows.length, events + 2, 'the table holds each event once');
    assert.is(new Set(rows.map((row) => row.event_id)).size, events + 2);
    assert.equal(countBy(rows, (row) => row.event_type), expectedTypeCounts(events));
    assert.ok(env.pipeline.deltaWriter!.status().duplicatesDropped >= 1);
  } finally {
    await relay.close();
    await closeDuckDb();
    await env.stop();
  }
});

monoTest('rate_limited error frames from the real handler: the refused batches are sent again later and all stored once', async () => {
  const exe = await sampleExe();
  // 200 events queued at once in batches of 20, against 400 events/s with a burst of 40: most batches are refused
  // at first with retry_after_ms.
  const env = await startTestPipeline({ rateLimitPerSecond: 400, rateBurst: 40 });
  try {
    const events = 198;
    const output = await run('mono', [exe, env.url, String(events), '--batch-size', '20', '--flush-ms', '50']);
    assert.is(output.code, 0, `the sample failed:\n${output.stdout}${output.stderr}`);
    const summary = summaryOf(output);
    assert.is(summary.acked, events + 2);
    assert.ok(summary.retryableErrors >= 1, `some batches were rate limited:\n${output.stderr}`);
    assert.is(summary.reconnects, 0, 'an error frame leaves the socket open');

    await env.pipeline.deltaWriter!.drain();
    const rows = await tableRows(env.dataDir);
    assert.is(rows.length, events + 2);
    assert.is(new Set(rows.map((row) => row.event_id)).size, events + 2);
    assert.ok(rows.every((row) => row.player_id === summary.playerId));
  } finally {
    await closeDuckDb();
    await env.stop();
  }
});

monoTest('a quiet game keeps its socket with pings; without them the idle limit (shortened) closes it and the client reconnects', async () => {
  const exe = await sampleExe();
  const env = await startTestPipeline({ wsIdleTimeoutMs: 800 });
  try {
    // Four events 1.5 s apart: longer than the idle limit between any two sends.
    const quietGame = ['2', '--duration-ms', '3000', '--flush-ms', '50'];
    const [pinging, silent] = await Promise.all([
      run('mono', [exe, env.url, ...quietGame, '--ping-after-ms', '200']),
      run('mono', [exe, env.url, ...quietGame]), // the default: a ping after 4 minutes, so never in this run
    ]);
    for (const output of [pinging, silent]) assert.is(output.code, 0, `the sample failed:\n${output.stdout}${output.stderr}`);
    assert.is(summaryOf(pinging).reconnects, 0, `pings keep the socket open:\n${pinging.stderr}`);
    assert.is(summaryOf(pinging).acked, 4);
    assert.ok(summaryOf(silent).reconnects >= 1, 'without pings the server closes the idle socket (so pings, not Mono, kept it)');
    assert.is(summaryOf(silent).acked, 4, 'and nothing is lost: the client reconnects');
  } finally {
    await env.stop();
  }
});

test.run();
