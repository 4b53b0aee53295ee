import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HubStream } from '../runtime/local/stream/hub-stream.ts';
import { dataPaths } from '../runtime/local/data-paths.ts';
import { loginAsGuest, ORIGINAL_EXAMPLE, storedRows, tempDir, TestSocket } from './support/local.ts';
import { exited, startServerProcess } from './support/server-process.ts';

test('SIGKILL during WebSocket intake: every acked event is in the SQLite stream after the crash', async () => {
  const dir = tempDir();
  try {
    const server = await startServerProcess(['--port', '0', '--data-dir', dir.path]);
    const guest = await loginAsGuest(server.url);
    const socket = await TestSocket.open(server.url.replace(/^http/, 'ws'), guest.auth_token);
    const acked = new Set<string>();
    let sent = 0;
    socket.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'ack') for (let i = 0; i < 50; i++) acked.add(`${frame.id}-${i}`);
    });
    // Keep 8 batches in flight until enough acks have come back, then kill without warning.
    await new Promise<void>((resolve) => {
      const pump = setInterval(() => {
        if (acked.size >= 2000) {
          clearInterval(pump);
          resolve();
          return;
        }
        while (sent * 50 - acked.size < 400) {
          const id = `b${sent++}`;
          socket.send({ action: 'put-records', id, events: Array.from({ length: 50 }, (_, i) => ({ ...ORIGINAL_EXAMPLE, event_id: `${id}-${i}` })) });
        }
      }, 1);
    });
    server.child.kill('SIGKILL');
    assert.is((await exited(server.child)).signal, 'SIGKILL');
    const ackedAtKill = new Set(acked);

    const stream = HubStream.open({ path: dataPaths(dir.path).stream });
    const stored = storedRows(stream).filter((row) => row.player_id === guest.user_id);
    await stream.close();
    const storedIds = new Set(stored.map((row) => row.event_id));
    const missing = [...ackedAtKill].filter((id) => !storedIds.has(id));
    assert.equal(missing, [], 'acked events missing after SIGKILL');
    assert.is(stored.length, storedIds.size, 'no event stored twice');
  } finally {
    dir.remove();
  }
});

test('SIGTERM drains: the process prints its URLs, stops cleanly, and a restart on the same data keeps tokens valid', async () => {
  const dir = tempDir();
  try {
    const server = await startServerProcess(['--port', '0', '--data-dir', dir.path]);
    for (const expected of ['login-as-guest', 'put-record', 'put-records', 'ws://', 'health']) {
      assert.ok(server.output().includes(expected), `start-up output names ${expected}`);
    }
    const guest = await loginAsGuest(server.url);
    const port = new URL(server.url).port;
    const inFlight = fetch(`${server.url}put-records`, {
      method: 'POST',
      headers: { authorization: guest.auth_token },
      body: JSON.stringify({ events: Array.from({ length: 500 }, (_, i) => ({ ...ORIGINAL_EXAMPLE, event_id: `t-${i}` })) }),
    });
    const response = await inFlight;
    server.child.kill('SIGTERM');
    assert.is(response.status, 200);
    const { code } = await exited(server.child);
    assert.is(code, 0, server.output());
    assert.match(server.output(), /Stopped cleanly/);

    // Same port, same data directory: the issuer is the same, so the old token still verifies.
    const again = await startServerProcess(['--port', port, '--data-dir', dir.path]);
    const ok = await fetch(`${again.url}put-record`, { method: 'POST', headers: { authorization: guest.auth_token }, body: JSON.stringify(ORIGINAL_EXAMPLE) });
    assert.is(ok.status, 200);
    again.child.kill('SIGTERM');
    assert.is((await exited(again.child)).code, 0);
    const stream = HubStream.open({ path: join(dir.path, 'stream', 'hub.sqlite') });
    assert.is(storedRows(stream).length, 501);
    await stream.close();
  } finally {
    dir.remove();
  }
});

test('bad flags are reported together with a hint, and --help lists every option', async () => {
  const { spawnSync } = await import('node:child_process');
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'runtime/local/main.ts', ...args], { cwd: new URL('../', import.meta.url), encoding: 'utf8' });
  const bad = run(['--port', 'ninety', '--ws-idle-timeout=-1']);
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--port/);
  assert.match(bad.stderr, /--ws-idle-timeout/);
  const help = run(['--help']);
  assert.is(help.status, 0);
  for (const flag of ['--port', '--host', '--data-dir', 'TELEMETRY_PORT', 'TELEMETRY_DATA_DIR']) assert.ok(help.stdout.includes(flag), flag);
});

test.run();
