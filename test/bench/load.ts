import { Agent, request } from 'node:http';
import WebSocket from 'ws';

export interface LoadResult {
  readonly label: string;
  readonly seconds: number;
  /** Events (WebSocket) or requests (REST) completed. */
  readonly completed: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function eventBatch(prefix: string, size: number): string {
  const events = Array.from({ length: size }, (_, i) => ({
    event_id: `${prefix}-${i}`,
    event_type: ['Login', 'Logout', 'New Game', 'Resume Game', 'End Game'][i % 5],
    updated_at: '2024-02-22 03:03:02.123456',
    event_data: 'The only thing we have to fear is fear itself.',
  }));
  return JSON.stringify(events).slice(1, -1);
}

/**
 * WebSocket load: `sockets` connections, each keeping `inFlight` batches of `batch` events unacked,
 * for `seconds`. Latency is from send to ack.
 */
export async function wsLoad(options: {
  label: string;
  url: string;
  tokens: readonly string[];
  batch: number;
  inFlight: number;
  seconds: number;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let completed = 0;
  let errors = 0;
  const deadline = Date.now() + options.seconds * 1000;
  const eventsJson = eventBatch('e', options.batch);
  const runSocket = (token: string, index: number) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`${options.url}?auth_token=${token}`, { perMessageDeflate: false });
      const sentAt = new Map<string, number>();
      let seq = 0;
      const send = () => {
        const id = `s${index}-${seq++}`;
        sentAt.set(id, performance.now());
        // Ids differ per batch; the events inside repeat, which the intake does not mind (dedup is downstream).
        ws.send(`{"action":"put-records","id":"${id}","events":[${eventsJson}]}`);
      };
      ws.on('open', () => {
        for (let i = 0; i < options.inFlight; i++) send();
      });
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        const started = sentAt.get(frame.id);
        sentAt.delete(frame.id);
        if (frame.type === 'ack' && started !== undefined) {
          latencies.push(performance.now() - started);
          completed += frame.accepted;
        } else errors++;
        if (Date.now() < deadline) send();
        else if (sentAt.size === 0) ws.close();
      });
      ws.on('close', () => resolve());
      ws.on('error', reject);
    });
  const started = performance.now();
  await Promise.all(options.tokens.map((token, i) => runSocket(token, i)));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { label: options.label, seconds, completed, perSecond: completed / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), errors };
}

/** REST load: `concurrency` keep-alive connections posting one event per request for `seconds`. */
export async function restLoad(options: { label: string; url: string; token: string; concurrency: number; seconds: number }): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const target = new URL('put-record', options.url);
  const body = `{${eventBatch('r', 1).slice(1, -1)}}`;
  const latencies: number[] = [];
  let completed = 0;
  let errors = 0;
  const deadline = Date.now() + options.seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const req = request(
        target,
        { method: 'POST', agent, headers: { authorization: options.token, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) {
              completed++;
              latencies.push(performance.now() - started);
            } else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const worker = async () => {
    while (Date.now() < deadline) await one();
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { label: options.label, seconds, completed, perSecond: completed / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), errors };
}
