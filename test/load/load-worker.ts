/**
 * One load process: many WebSocket players sending a batch every few seconds, a few REST players posting now and
 * then, and optionally misbehaving clients. It prints one JSON line with what was acknowledged, so the parent can
 * check the table against it.
 */
import WebSocket from 'ws';
import { percentile } from '../bench/load.ts';

/** A player's tokens, as `/login-as-guest` gives them; the access token is renewed before its 15 minutes are up. */
interface Credentials {
  auth: string;
  refresh: string;
}

interface WorkerConfig {
  url: string;
  players: Credentials[];
  /** A player of its own that floods: it sends as fast as it can and must be rate limited, never cut off. */
  flooder?: Credentials;
  sockets: number;
  restPlayers: number;
  seconds: number;
  intervalMs: number;
  batch: number;
  abuse: boolean;
  name: string;
}

const config = JSON.parse(process.argv[2]!) as WorkerConfig;
const wsUrl = config.url.replace(/^http/, 'ws');
const deadline = Date.now() + config.seconds * 1000;
/** Batches (WebSocket or REST) acknowledged, with how many of their events were accepted: `<id>-<i>` for i < n. */
const acked: string[] = [];
const ackedCounts: number[] = [];
const latencies: number[] = [];
/** First-send latencies by minute of the run, to tell a slow start or a slow end from a steady tail. */
const byMinute: number[][] = [];
const started = Date.now();
/** Batches re-sent after a reconnect: from the re-send to the ack (the wait for the reconnect is the client's). */
const resentLatencies: number[] = [];
const restLatencies: number[] = [];
/** Error frames by code, and refused upgrades and REST answers other than 200 as `http_<status>`. */
const errors: Record<string, number> = {};
/** What the misbehaving clients sent, by kind, and what came back that was not what it should have been. */
const abuse: Record<string, number> = {};
const unexpected: string[] = [];
let opened = 0;
let refused = 0;
let reconnects = 0;
let malformedSent = 0;

const count = (table: Record<string, number>, key: string) => (table[key] = (table[key] ?? 0) + 1);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const noteUnexpected = (what: string) => {
  if (unexpected.length < 20) unexpected.push(what);
};

function ack(id: string, accepted: number): void {
  acked.push(id);
  ackedCounts.push(accepted);
}

function events(id: string, size: number): Array<Record<string, unknown>> {
  // The game's clock: the batch's events happened over the last moments, 50 ms apart, as a real client's do.
  const sentAt = Date.now();
  return Array.from({ length: size }, (_, i) => ({
    event_id: `${id}-${i}`,
    event_type: ['Login', 'Logout', 'New Game', 'Resume Game', 'End Game'][i % 5],
    updated_at: new Date(sentAt - (size - 1 - i) * 50).toISOString(),
    event_data: 'The only thing we have to fear is fear itself.',
  }));
}

/** New access tokens for every player: sockets that reconnect later, and REST requests, use them. */
async function refreshTokens(): Promise<void> {
  for (const credentials of [...config.players, ...(config.flooder ? [config.flooder] : [])]) {
    const res = await fetch(`${config.url}refresh-access-token?refresh_token=${encodeURIComponent(credentials.refresh)}`);
    if (!res.ok) {
      noteUnexpected(`refresh-access-token answered ${res.status}`);
      continue;
    }
    const tokens = (await res.json()) as { auth_token: string; refresh_token: string };
    credentials.auth = tokens.auth_token;
    credentials.refresh = tokens.refresh_token;
  }
}

/** The WebSocket players connect over this long at the start. */
const OPENING_MS = Math.min(5000, config.seconds * 200);

function player(index: number): Promise<void> {
  const credentials = config.players[index % config.players.length]!;
  const pending = new Map<string, { message: string; sentAt: number; resent: boolean }>();
  let seq = 0;
  return new Promise((resolve) => {
    const connect = () => {
      const ws = new WebSocket(`${wsUrl}?auth_token=${credentials.auth}`, { perMessageDeflate: false });
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
          const message = JSON.stringify({ action: 'put-records', id, events: events(id, config.batch) });
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
            } else if (roll < 0.016) {
              // Past the 128 KiB message limit: the gateway closes the socket with 1009; the client reconnects.
              count(abuse, 'ws_oversized');
              ws.send(JSON.stringify({ action: 'put-records', id: 'huge', events: [{ event_id: 'x', event_type: 'Login', event_data: 'x'.repeat(130 * 1024) }] }));
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
          ack(frame.id, frame.accepted);
          const latency = performance.now() - batch.sentAt;
          if (batch.resent) resentLatencies.push(latency);
          else {
            latencies.push(latency);
            (byMinute[Math.floor((Date.now() - started) / 60_000)] ??= []).push(latency);
          }
        } else if (frame.type === 'error') {
          count(errors, frame.error);
        }
        if (Date.now() >= deadline && pending.size === 0) ws.close();
      });
      ws.on('unexpected-response', (_req, res) => {
        refused++;
        count(errors, `http_${res.statusCode}`);
      });
      ws.on('error', () => {});
      ws.on('close', (code) => {
        clearTimeout(timer);
        if (code === 1009) count(abuse, 'ws_oversized_closed_1009');
        // Reconnect and re-send what was not acked, as a real client does, until the end (plus a grace period).
        const now = Date.now();
        if (now < deadline || (pending.size > 0 && now < deadline + 20_000)) setTimeout(connect, 200 + Math.random() * 500);
        else resolve();
      });
    };
    // Connections are opened over the first seconds, not all at once.
    setTimeout(connect, Math.random() * OPENING_MS);
  });
}

/** POST with the raw token, as the original clients send it; the status and the parsed body, or null if no answer. */
async function post(path: string, body: string, token: string | undefined): Promise<{ status: number; body: unknown; retryAfter: number } | null> {
  try {
    const res = await fetch(`${config.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: token }) },
      body,
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (a refusal from the gateway itself)
    }
    return { status: res.status, body: parsed, retryAfter: Number(res.headers.get('retry-after') ?? 1) };
  } catch (error) {
    // No answer at all: the connection failed (the cause's code says how). The caller decides whether to retry.
    count(errors, `http_no_answer_${(error as { cause?: { code?: string } }).cause?.code ?? 'unknown'}`);
    return null;
  }
}

/**
 * A REST player: now and then one event (`/put-record`) or a batch (`/put-records`), each retried until it is
 * answered 200, as the original clients do. With abuse, some requests are bad on purpose and must get their code.
 */
async function restPlayer(index: number): Promise<void> {
  const credentials = config.players[(index * 7) % config.players.length]!;
  // After the WebSockets have opened: REST latency is measured in the steady state, not in the opening rush.
  await sleep(OPENING_MS + Math.random() * config.intervalMs);
  for (let seq = 0; Date.now() < deadline; seq++) {
    const id = `${config.name}-rest${index}-${seq}`;
    const single = seq % 2 === 0;
    const batch = events(id, single ? 1 : config.batch);
    // A batch with one invalid event: the valid ones are stored, the bad one is rejected by index.
    const withInvalid = config.abuse && !single && Math.random() < 0.05;
    if (withInvalid) batch[3] = { ...batch[3], updated_at: 'yesterday' };
    const body = JSON.stringify(single ? batch[0] : { events: batch });
    const started = performance.now();
    for (let attempt = 0; Date.now() < deadline + 20_000; attempt++) {
      const answer = await post(single ? 'put-record' : 'put-records', body, credentials.auth);
      if (answer?.status === 200) {
        restLatencies.push(performance.now() - started);
        if (single) {
          if (answer.body !== 'Successfully added event') noteUnexpected(`put-record answered ${JSON.stringify(answer.body)}`);
          ack(id, 1);
        } else {
          const result = answer.body as { accepted: number; rejected: Array<{ index: number; error: string }> };
          const expected = withInvalid ? [3] : [];
          if (result.rejected.map((r) => r.index).join() !== expected.join() || (withInvalid && result.rejected[0]!.error !== 'invalid_timestamp')) {
            noteUnexpected(`put-records rejected ${JSON.stringify(result.rejected)}`);
          }
          ack(id, result.accepted);
        }
        break;
      }
      if (answer !== null) count(errors, `http_${answer.status}`);
      await sleep(answer?.status === 429 ? answer.retryAfter * 1000 : 500 + attempt * 500);
    }
    if (config.abuse && Math.random() < 0.1) await restAbuse(credentials.auth);
    await sleep(config.intervalMs * (0.5 + Math.random()));
  }
}

/** One bad REST request of a random kind; each must get its own status and code. */
async function restAbuse(token: string): Promise<void> {
  type Answer = NonNullable<Awaited<ReturnType<typeof post>>>;
  const kinds: Array<[string, () => ReturnType<typeof post>, (answer: Answer) => boolean]> = [
    ['rest_malformed_json', () => post('put-record', '{"event_id": ', token),
      (a) => a.status === 400 && (a.body as { error?: string }).error === 'malformed_json'],
    ['rest_no_token', () => post('put-record', JSON.stringify(events('x', 1)[0]), undefined), (a) => a.status === 401],
    ['rest_bad_token', () => post('put-record', JSON.stringify(events('x', 1)[0]), `${token.slice(0, -4)}AAAA`), (a) => a.status === 401],
    ['rest_too_large', () => post('put-records', JSON.stringify({ events: [{ event_data: 'x'.repeat(1024 * 1024) }] }), token),
      (a) => a.status === 413],
  ];
  const [kind, send, expected] = kinds[Math.floor(Math.random() * kinds.length)]!;
  count(abuse, kind);
  // Like any client, it tries again when the connection failed; an answer, once it comes, must be the right one.
  let answer: Answer | null = null;
  for (let attempt = 0; attempt < 3 && answer === null; attempt++) answer = await send();
  if (answer === null || !expected(answer)) noteUnexpected(`${kind} got an unexpected answer`);
}

/**
 * A cheater's client: batches of 500 as fast as acks come, on one socket. The per-player limit answers
 * `rate_limited` with a retry hint; the client waits that long and re-sends, and the socket stays open.
 */
function flooder(token: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${wsUrl}?auth_token=${token}`, { perMessageDeflate: false });
    let seq = 0;
    let current: { id: string; message: string } | undefined;
    const next = () => {
      if (Date.now() >= deadline) return ws.close();
      const id = `${config.name}-flood-${seq++}`;
      current = { id, message: JSON.stringify({ action: 'put-records', id, events: events(id, 500) }) };
      ws.send(current.message);
    };
    ws.on('open', next);
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'ack' && frame.id === current?.id) {
        ack(frame.id, frame.accepted);
        next();
      } else if (frame.type === 'error' && frame.error === 'rate_limited' && current && frame.id === current.id) {
        count(abuse, 'flood_rate_limited');
        const message = current.message;
        setTimeout(() => ws.readyState === WebSocket.OPEN && ws.send(message), frame.retry_after_ms);
      } else {
        noteUnexpected(`flooder got ${data.toString().slice(0, 200)}`);
      }
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      if (Date.now() < deadline) noteUnexpected(`flooder's socket closed with ${code} before the end`);
      resolve();
    });
  });
}

// Every 10 minutes, or half-way through a shorter run, so that every run goes through the renewal.
const refresher = setInterval(() => void refreshTokens(), Math.min(10 * 60 * 1000, config.seconds * 500));
await Promise.all([
  ...Array.from({ length: config.sockets }, (_, i) => player(i)),
  ...Array.from({ length: config.restPlayers }, (_, i) => restPlayer(i)),
  ...(config.abuse && config.flooder ? [flooder(config.flooder.auth)] : []),
]);
clearInterval(refresher);
const sampled = (values: number[]) => values.sort((a, b) => a - b).filter((_, i) => i % Math.max(1, Math.floor(values.length / 20000)) === 0);
process.stdout.write(
  `${JSON.stringify({
    acked,
    ackedCounts,
    latencies: sampled(latencies),
    p99ByMinute: Array.from(byMinute, (xs = []) => (xs.length === 0 ? 0 : percentile(xs.sort((a, b) => a - b), 99))),
    resentLatencies: sampled(resentLatencies),
    restAnswered: restLatencies.length,
    restLatencies: sampled(restLatencies),
    errors,
    abuse,
    unexpected,
    opened,
    refused,
    reconnects,
    malformedSent,
  })}\n`,
);
