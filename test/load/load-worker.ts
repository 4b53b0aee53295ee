/**
 * One load process: many WebSocket players sending a batch every few seconds, optionally misbehaving. It prints
 * one JSON line with what was acknowledged, so the parent can check the table against it.
 */
import WebSocket from 'ws';

interface WorkerConfig {
  url: string;
  tokens: string[];
  sockets: number;
  seconds: number;
  intervalMs: number;
  batch: number;
  abuse: boolean;
  name: string;
}

const config = JSON.parse(process.argv[2]!) as WorkerConfig;
const wsUrl = config.url.replace(/^http/, 'ws');
const deadline = Date.now() + config.seconds * 1000;
const acked: string[] = [];
const latencies: number[] = [];
/** Batches re-sent after a reconnect: from the re-send to the ack (the wait for the reconnect is the client's). */
const resentLatencies: number[] = [];
const errors: Record<string, number> = {};
let opened = 0;
let refused = 0;
let reconnects = 0;
let malformedSent = 0;

function batchMessage(id: string): string {
  // The game's clock: the batch's events happened over the last moments, 50 ms apart, as a real client's do.
  const sentAt = Date.now();
  const events = Array.from({ length: config.batch }, (_, i) => ({
    event_id: `${id}-${i}`,
    event_type: ['Login', 'Logout', 'New Game', 'Resume Game', 'End Game'][i % 5],
    updated_at: new Date(sentAt - (config.batch - 1 - i) * 50).toISOString(),
    event_data: 'The only thing we have to fear is fear itself.',
  }));
  return JSON.stringify({ action: 'put-records', id, events });
}

function player(index: number): Promise<void> {
  const token = config.tokens[index % config.tokens.length]!;
  const pending = new Map<string, { message: string; sentAt: number; resent: boolean }>();
  let seq = 0;
  return new Promise((resolve) => {
    const connect = () => {
      const ws = new WebSocket(`${wsUrl}?auth_token=${token}`, { perMessageDeflate: false });
      let timer: NodeJS.Timeout | undefined;
      ws.on('open', () => {
        opened++;
        for (const batch of pending.values()) {
          batch.sentAt = performance.now();
          batch.resent = true;
          ws.send(batch.message);
        }
        const tick = () => {
          if (Date.now() >= deadline) {
            if (pending.size === 0) ws.close();
            return;
          }
          const id = `${config.name}-${index}-${seq++}`;
          const message = batchMessage(id);
          pending.set(id, { message, sentAt: performance.now(), resent: false });
          ws.send(message);
          if (config.abuse) {
            const roll = Math.random();
            if (roll < 0.01) {
              malformedSent++;
              ws.send(roll < 0.005 ? '{"action": "put-records", "id": "bad", "events": [{"event_id": 1}]}' : 'not json {');
            } else if (roll < 0.015) {
              // Disconnect mid-batch: the batch was sent, its ack will never be read on this socket.
              reconnects++;
              ws.terminate();
              return;
            }
          }
          timer = setTimeout(tick, config.intervalMs * (0.5 + Math.random()));
        };
        timer = setTimeout(tick, Math.random() * config.intervalMs);
      });
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        const batch = pending.get(frame.id);
        if (frame.type === 'ack' && batch) {
          pending.delete(frame.id);
          acked.push(frame.id);
          (batch.resent ? resentLatencies : latencies).push(performance.now() - batch.sentAt);
        } else if (frame.type === 'error') {
          errors[frame.error] = (errors[frame.error] ?? 0) + 1;
        }
        if (Date.now() >= deadline && pending.size === 0) ws.close();
      });
      ws.on('unexpected-response', (_req, res) => {
        refused++;
        errors[`http_${res.statusCode}`] = (errors[`http_${res.statusCode}`] ?? 0) + 1;
      });
      ws.on('error', () => {});
      ws.on('close', () => {
        clearTimeout(timer);
        // Reconnect and re-send what was not acked, as a real client does, until the end (plus a grace period).
        if (pending.size > 0 && Date.now() < deadline + 20_000) setTimeout(connect, 200 + Math.random() * 500);
        else resolve();
      });
    };
    // Connections are opened over the first seconds, not all at once.
    setTimeout(connect, Math.random() * Math.min(5000, config.seconds * 200));
  });
}

await Promise.all(Array.from({ length: config.sockets }, (_, i) => player(i)));
const sampled = (values: number[]) => values.sort((a, b) => a - b).filter((_, i) => i % Math.max(1, Math.floor(values.length / 20000)) === 0);
process.stdout.write(
  `${JSON.stringify({ acked, latencies: sampled(latencies), resentLatencies: sampled(resentLatencies), errors, opened, refused, reconnects, malformedSent })}\n`,
);
