import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { StoredRow } from '../../runtime/core/event.ts';
import { packRows } from '../../runtime/core/hub-record.ts';
import { decodeHubRecord } from '../../runtime/core/stored-row.ts';
import type { LocalPipeline, PipelineConfig } from '../../runtime/local/pipeline.ts';
import { readLocalConfig } from '../../runtime/local/config.ts';
import { startLocalPipeline } from '../../runtime/local/pipeline.ts';
import type { HubStream } from '../../runtime/local/stream/hub-stream.ts';

export function tempDir(prefix = 'telemetry-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * `npm start`'s own defaults (read through the real config module, so they cannot drift), on port 0, without the
 * rate limit and with room for many connections per player: tests and benchmarks drive many events per player.
 */
export function testPipelineConfig(dataDir: string, overrides: Partial<PipelineConfig> = {}): PipelineConfig {
  const command = readLocalConfig(['--port', '0', '--data-dir', dataDir], {});
  if (command.help) throw new Error('unreachable: no --help given');
  return { ...command.config, rateLimitPerSecond: 0, maxConnectionsPerPlayer: 1000, ...overrides };
}

/** The real local pipeline on 127.0.0.1, port 0, in a fresh data directory. */
export async function startTestPipeline(overrides: Partial<PipelineConfig> = {}) {
  const dir = tempDir();
  const pipeline: LocalPipeline = await startLocalPipeline(testPipelineConfig(dir.path, { deltaWindowMs: 200, ...overrides }));
  return {
    pipeline,
    url: pipeline.url,
    wsUrl: pipeline.url.replace(/^http/, 'ws'),
    dataDir: dir.path,
    async stop() {
      await pipeline.close();
      dir.remove();
    },
  };
}

export interface GuestLogin {
  user_id: string;
  guest_secret: string;
  auth_token: string;
  refresh_token: string;
}

export async function loginAsGuest(baseUrl: string): Promise<GuestLogin> {
  const response = await fetch(`${baseUrl}login-as-guest`);
  if (response.status !== 200) throw new Error(`login failed: ${response.status}`);
  return (await response.json()) as GuestLogin;
}

export function storedRows(stream: HubStream): StoredRow[] {
  return stream.read(0, 1_000_000).flatMap((entry) => decodeHubRecord(entry.data).rows);
}

/** Appends one record to the stream, as the gateway would: the original example under each id, player `p1`. */
export function appendStoredEvents(stream: HubStream, ids: readonly string[]) {
  return stream.append(
    packRows(
      ids.map((id) => ({
        ...ORIGINAL_EXAMPLE,
        event_id: id,
        updated_at: '2024-02-22T03:03:02.000000Z',
        player_id: 'p1',
        received_at: '2024-02-22T03:03:03.000000Z',
        source: 'ws' as const,
      })),
    ),
  );
}

/** A real `ws` client that collects frames and lets a test await the next one. */
export class TestSocket {
  readonly frames: unknown[] = [];
  private waiters: Array<(frame: unknown) => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      const waiter = this.waiters.shift();
      if (waiter) waiter(frame);
      else this.frames.push(frame);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static open(url: string, token: string | undefined): Promise<TestSocket> {
    const target = token === undefined ? url : `${url}?auth_token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(target);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new TestSocket(ws)));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  next(timeoutMs = 5000): Promise<any> {
    const queued = this.frames.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no frame in time')), timeoutMs);
      this.waiters.push((frame) => {
        clearTimeout(timer);
        resolve(frame);
      });
    });
  }

  async request(message: unknown): Promise<any> {
    this.send(message);
    return this.next();
  }

  close(): Promise<unknown> {
    this.ws.close();
    return this.closed;
  }
}

export const ORIGINAL_EXAMPLE = {
  event_id: '00006',
  event_type: 'Login',
  updated_at: '2024-02-22 03:03:02',
  event_data: 'The only thing we have to fear is fear itself.',
};
