// The browser demo: the client library in a real page, with buttons for the original sample's events.
import { TelemetryClient } from '../telemetry-client/index.ts';

interface DemoEvents extends Record<string, unknown> {
  Login: { page: string };
  CollectedItem: { item: string };
  'Killed Enemy': { enemy: string };
  Logout: undefined;
}

const ITEMS = ['coin', 'gem', 'potion', 'key', 'scroll'];
const ENEMIES = ['goblin', 'skeleton', 'slime', 'dragon'];

const element = (id: string): HTMLElement => document.getElementById(id)!;
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

function log(line: string): void {
  const box = element('log');
  box.textContent += `${new Date().toLocaleTimeString()}  ${line}\n`;
  box.scrollTop = box.scrollHeight;
}

async function main(): Promise<void> {
  // The page is served by the gateway itself: identity, REST and WebSocket share its origin.
  const client = await TelemetryClient.start<DemoEvents>({ endpoint: `${location.origin}/` });
  (window as unknown as { telemetry: unknown }).telemetry = client; // for the console (and the browser test)

  client.on('connected', ({ userId }) => {
    element('player').textContent = userId ?? '?';
    log(`connected as ${userId}`);
  });
  client.on('disconnected', ({ code }) => log(`disconnected (${code}); reconnecting…`));
  client.on('ack', ({ batchId, accepted, rejected, latencyMs, transport }) =>
    log(`batch ${batchId}: ${accepted} stored, ${rejected.length} rejected, ${latencyMs} ms (${transport})`),
  );
  client.on('refused', ({ batchId, code, message }) => log(`batch ${batchId} refused: ${code} ${message}`));
  client.on('warning', ({ message }) => log(`⚠ ${message}`));

  const track = <K extends keyof DemoEvents & string>(type: K, data?: DemoEvents[K]): void => {
    const id = client.track(type, data);
    log(`tracked ${type} ${id.slice(0, 8)}…`);
  };
  element('login').onclick = () => track('Login', { page: location.pathname });
  element('collect').onclick = () => track('CollectedItem', { item: pick(ITEMS) });
  element('kill').onclick = () => track('Killed Enemy', { enemy: pick(ENEMIES) });
  element('burst').onclick = () => {
    for (let i = 0; i < 100; i++) client.track('CollectedItem', { item: pick(ITEMS) });
    log('tracked 100 × CollectedItem');
  };
  element('logout').onclick = () => track('Logout');
  element('flush').onclick = async () => log((await client.flush()) ? 'flushed: everything is stored' : 'flush timed out; still sending');
  // Closing the tab flushes what it can; the rest is lost with the page's memory (the Node build keeps a file).
  addEventListener('pagehide', () => void client.close(1000));

  setInterval(() => {
    const stats = client.stats();
    element('transport').textContent = stats.transport;
    element('tracked').textContent = String(stats.tracked);
    element('acked').textContent = String(stats.acked);
    element('waiting').textContent = String(stats.queued + stats.unacked);
    element('dropped').textContent = String(stats.dropped);
  }, 200);
}

main().catch((error: unknown) => log(`cannot start: ${error instanceof Error ? error.message : String(error)}`));
