import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { percentile } from './load.ts';

export interface EndToEndResult {
  readonly seconds: number;
  readonly acked: number;
  readonly perSecond: number;
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly freshnessP50Ms: number;
  readonly freshnessP99Ms: number;
  readonly freshnessSamples: number;
  readonly maxLag: number;
  readonly finalLag: number;
  readonly drainMs: number;
  readonly maxRssMiB: number;
  readonly tableRows: number | undefined;
}

interface Health {
  stream: { lastPosition: number };
  delta_writer: { position: number; lag: number; rowsWritten: number; healthy: boolean; lastError?: string };
}

/**
 * End to end over WebSocket for `seconds`: unique events (so dedup keeps them all), acks, and the Delta writer
 * keeping up. Freshness is from an ack to the moment the table's txn covers the stream position the batch had
 * reached (the writer commits the Delta version before it reports that position), sampled every 200 ms.
 */
export async function endToEnd(options: {
  url: string;
  pid: number;
  tokens: readonly string[];
  batch: number;
  inFlight: number;
  seconds: number;
  /** Events per second offered in all (open loop, each socket on its own schedule); unset: as fast as acks come. */
  rate?: number;
}): Promise<EndToEndResult> {
  const health = async (): Promise<Health> => (await fetch(`${options.url}health`)).json() as Promise<Health>;
  const rssMiB = () => {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${options.pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  };
  const template = JSON.stringify(
    Array.from({ length: options.batch }, (_, i) => ({
      event_id: `@B-${i}`,
      event_type: ['Login', 'Logout', 'New Game', 'Resume Game', 'End Game'][i % 5],
      updated_at: '@T',
      event_data: 'The only thing we have to fear is fear itself.',
    })),
  );
  const deadline = Date.now() + options.seconds * 1000;
  const ackLatencies: number[] = [];
  const freshness: number[] = [];
  const pendingMarks: Array<{ at: number; position: number }> = [];
  let acked = 0;
  let maxLag = 0;
  let maxRss = 0;
  let markDue = 0;

  const sampler = setInterval(() => {
    maxRss = Math.max(maxRss, rssMiB());
    void health().then((h) => {
      maxLag = Math.max(maxLag, h.delta_writer.lag);
      const now = performance.now();
      while (pendingMarks.length > 0 && h.delta_writer.position >= pendingMarks[0]!.position) {
        freshness.push(now - pendingMarks.shift()!.at);
      }
    });
  }, 50);

  const runSocket = (token: string, index: number) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`${options.url.replace(/^http/, 'ws')}?auth_token=${token}`, { perMessageDeflate: false });
      const sentAt = new Map<string, number>();
      let seq = 0;
      // With a rate, batch k of this socket is due at k × period (staggered across sockets); a socket with
      // `inFlight` batches unacked sends its next one when an ack frees a slot, so a slow pipeline shows as a
      // lower rate, never as an unbounded queue in the client.
      const period = options.rate === undefined ? 0 : (options.batch * options.tokens.length * 1000) / options.rate;
      let dueAt = performance.now() + (period * index) / options.tokens.length;
      let timer: NodeJS.Timeout | undefined;
      const pump = () => {
        timer = undefined;
        while (sentAt.size < options.inFlight && Date.now() < deadline) {
          const now = performance.now();
          if (period > 0 && now < dueAt) {
            timer = setTimeout(pump, dueAt - now);
            return;
          }
          dueAt += period;
          send();
        }
        if (Date.now() >= deadline && sentAt.size === 0) ws.close();
      };
      const send = () => {
        const id = `s${index}-${seq++}`;
        sentAt.set(id, performance.now());
        // The game's clock at the batch: events carry the time they happened, as real clients' do.
        const events = template.replaceAll('@B', id).replaceAll('@T', new Date().toISOString());
        ws.send(`{"action":"put-records","id":"${id}","events":${events}}`);
      };
      ws.on('open', pump);
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        const started = sentAt.get(frame.id);
        sentAt.delete(frame.id);
        if (frame.type === 'ack' && started !== undefined) {
          const now = performance.now();
          ackLatencies.push(now - started);
          acked += frame.accepted;
          if (now >= markDue) {
            markDue = now + 200;
            // The ack came after the commit, so the stream's last position now is at or past this batch's.
            void health().then((h) => pendingMarks.push({ at: now, position: h.stream.lastPosition }));
          }
        }
        if (timer === undefined) pump();
      });
      ws.on('close', () => resolve());
      ws.on('error', reject);
    });

  const started = performance.now();
  await Promise.all(options.tokens.map((token, i) => runSocket(token, i)));
  const seconds = (performance.now() - started) / 1000;
  const finalLag = (await health()).delta_writer.lag;
  const drainStarted = performance.now();
  let last = await health();
  while (last.delta_writer.lag > 0 || pendingMarks.length > 0) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await health();
  }
  const drainMs = performance.now() - drainStarted;
  clearInterval(sampler);
  ackLatencies.sort((a, b) => a - b);
  freshness.sort((a, b) => a - b);
  return {
    seconds,
    acked,
    perSecond: acked / seconds,
    ackP50Ms: percentile(ackLatencies, 50),
    ackP99Ms: percentile(ackLatencies, 99),
    freshnessP50Ms: percentile(freshness, 50),
    freshnessP99Ms: percentile(freshness, 99),
    freshnessSamples: freshness.length,
    maxLag,
    finalLag,
    drainMs,
    maxRssMiB: maxRss,
    tableRows: last.delta_writer.rowsWritten,
  };
}
