import Database from 'better-sqlite3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dataPaths } from '../runtime/local/data-paths.ts';
import { loginAsGuest, ORIGINAL_EXAMPLE, startTestPipeline, TestSocket } from './support/local.ts';

test('the stream cannot commit: REST 500 "Failed", WebSocket stream_unavailable, nothing acked or stored; it recovers by itself', async () => {
  const env = await startTestPipeline({ intakeOnly: true, streamBusyTimeoutMs: 50 });
  const lock = new Database(dataPaths(env.dataDir).stream);
  try {
    const guest = await loginAsGuest(env.url);
    const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
    const post = () =>
      fetch(`${env.url}put-record`, { method: 'POST', headers: { authorization: guest.auth_token }, body: JSON.stringify(ORIGINAL_EXAMPLE) });
    const before = env.pipeline.stream.lastPosition();

    // Another process holds the write lock past the busy timeout: to the intake that is a stream that cannot commit.
    lock.exec('BEGIN IMMEDIATE');
    const failed = await post();
    assert.is(failed.status, 500);
    assert.is(await failed.json(), 'Failed');
    const frame = await socket.request({ action: 'put-records', id: 'during-fault', events: [ORIGINAL_EXAMPLE] });
    assert.equal([frame.type, frame.id, frame.error], ['error', 'during-fault', 'stream_unavailable']);
    lock.exec('ROLLBACK');
    assert.is(env.pipeline.stream.lastPosition(), before, 'nothing was stored');

    // The fault clears: the same server takes events again, no restart.
    assert.is((await post()).status, 200);
    const ack = await socket.request({ action: 'put-records', id: 'during-fault', events: [ORIGINAL_EXAMPLE] });
    assert.equal([ack.type, ack.accepted], ['ack', 1]);
    assert.is(env.pipeline.stream.lastPosition(), before + 2);
    assert.is(env.pipeline.stream.stats().failedCommits, 2);
    await socket.close();
  } finally {
    lock.close();
    await env.stop();
  }
});

test.run();
