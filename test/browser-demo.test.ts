// The browser demo page in a real headless Chromium (Debian's, driven by playwright-core) against the real local
// pipeline: the client library's browser build logs in, streams over the browser's own WebSocket, and the clicks
// reach the Delta table.
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestPipeline } from './support/local.ts';
import { closeDuckDb, tableRows } from './support/table.ts';
import { requireTool } from './support/tools.ts';

const CHROMIUM = '/usr/bin/chromium';

test('the demo page sends a real browser’s events into the table', async () => {
  if (!requireTool(existsSync(CHROMIUM), 'Chromium', 'chromium')) return;
  const env = await startTestPipeline();
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // The machine has no network beyond loopback: keep Chromium from reaching out at start.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${env.url}demo/`);
    // Page-side code, as text: this file is type-checked without the DOM's types.
    await page.waitForFunction(`document.getElementById('transport')?.textContent === 'ws'`, undefined, { timeout: 15_000 });
    const player = (await page.textContent('#player'))!;
    assert.match(player, /^[0-9a-f-]{36}$/, 'logged in as a guest');

    await page.click('#login');
    await page.click('#collect');
    await page.click('#kill');
    await page.click('#burst');
    await page.click('#logout');
    await page.click('#flush');
    await page.waitForFunction(`document.getElementById('log')?.textContent?.includes('flushed: everything is stored')`, undefined, {
      timeout: 15_000,
    });
    assert.equal(errors, [], 'no script errors on the page');

    await env.pipeline.deltaWriter!.drain();
    const rows = (await tableRows(env.dataDir)).filter((row) => row.player_id === player);
    const counts: Record<string, number> = {};
    for (const row of rows) counts[row.event_type] = (counts[row.event_type] ?? 0) + 1;
    assert.equal(counts, { Login: 1, CollectedItem: 101, 'Killed Enemy': 1, Logout: 1 });
    assert.ok(rows.every((row) => row.source === 'ws'), 'streamed over the WebSocket');
    assert.is(new Set(rows.map((row) => row.event_id)).size, rows.length);
  } finally {
    await browser?.close();
    await env.stop();
  }
});

test.after(async () => {
  await closeDuckDb();
});

test.run();
