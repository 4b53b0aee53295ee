import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parquetReadObjects } from 'hyparquet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dataFilePath, loadSnapshot } from '../runtime/delta/snapshot.ts';
import { eventsTablePath } from '../runtime/local/delta-writer/events-table.ts';
import { loginAsGuest, startTestPipeline, TestSocket } from './support/local.ts';

const ROOT = new URL('../', import.meta.url);
function run(command: 'query' | 'lake', args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', `runtime/local/commands/${command}.ts`, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let dataDir = '';
let stop: () => Promise<void>;

test.before(async () => {
  const env = await startTestPipeline();
  dataDir = env.dataDir;
  stop = env.stop;
  const guest = await loginAsGuest(env.url);
  const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
  // Several small commits: the small files OPTIMIZE is for.
  for (let b = 0; b < 6; b++) {
    const events = Array.from({ length: 50 }, (_, i) => ({
      event_id: `b${b}-${i}`,
      event_type: i % 2 ? 'Login' : 'New Game',
      updated_at: `2024-02-22 03:03:${String(i).padStart(2, '0')}`,
      event_data: i % 10 === 0 ? null : `data ${b}-${i}, with "quotes"`,
    }));
    assert.is((await socket.request({ action: 'put-records', id: `b${b}`, events })).accepted, 50);
    await env.pipeline.deltaWriter!.drain();
  }
  await socket.close();
  await env.pipeline.close();
});
test.after(async () => {
  await stop().catch(() => {});
});

const countsQuery = 'SELECT event_type, count(*) AS n, count(event_data) AS with_data FROM events GROUP BY 1 ORDER BY 1';

test('npm run query: SQL over the table with event_type restored, as json, csv and table', () => {
  const json = run('query', [countsQuery, '--format', 'json', '--data-dir', dataDir]);
  assert.is(json.status, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout), [
    { event_type: 'Login', n: 150, with_data: 150 },
    { event_type: 'New Game', n: 150, with_data: 120 },
  ]);
  const csv = run('query', ["SELECT event_id, event_data FROM events WHERE event_id = 'b0-1'", '--format', 'csv', '--data-dir', dataDir]);
  assert.is(csv.stdout.trim(), 'event_id,event_data\nb0-1,"data 0-1, with ""quotes"""');
  const table = run('query', [countsQuery, '--data-dir', dataDir]);
  assert.match(table.stdout, /event_type\s+n\s+with_data/);
  assert.match(table.stdout, /\(2 rows\)/);
});

test('npm run query: clear errors for bad SQL, a missing table and bad options', () => {
  const bad = run('query', ['SELEKT 1', '--data-dir', dataDir]);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /syntax error/i);
  const missing = run('query', ['SELECT 1', '--data-dir', `${dataDir}/nowhere`]);
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /No events table .*npm start/);
  assert.is(run('query', ['SELECT 1', '--format', 'xml']).status, 2);
});

test('npm run lake status: version, files, rows and size per partition, txn and lag', () => {
  const status = run('lake', ['status', '--json', '--data-dir', dataDir]);
  assert.is(status.status, 0, status.stderr);
  const parsed = JSON.parse(status.stdout);
  assert.is(parsed.version, 6);
  assert.is(parsed.rows, 300);
  assert.is(parsed.files, 12);
  assert.equal(parsed.partitions.map((p: { event_type: string; files: number; rows: number }) => [p.event_type, p.files, p.rows]), [
    ['Login', 6, 150],
    ['New Game', 6, 150],
  ]);
  assert.is(parsed.lag, 0);
  assert.is(parsed.txns.length, 1);
  assert.is(parsed.txns[0].version, parsed.stream.lastPosition);
  const text = run('lake', ['status', '--data-dir', dataDir]);
  assert.match(text.stdout, /version\s+6/);
});

test('optimize, vacuum and checkpoint keep the table valid and its content unchanged', async () => {
  const before = run('query', ['SELECT * FROM events ORDER BY event_id', '--format', 'json', '--data-dir', dataDir]).stdout;
  const optimized = run('lake', ['optimize', '--json', '--data-dir', dataDir]);
  assert.is(optimized.status, 0, optimized.stderr);
  assert.equal([JSON.parse(optimized.stdout).filesRemoved, JSON.parse(optimized.stdout).filesAdded], [12, 2]);
  assert.is(run('query', ['SELECT * FROM events ORDER BY event_id', '--format', 'json', '--data-dir', dataDir]).stdout, before);

  const dry = run('lake', ['vacuum', '--retention-hours', '0', '--force', '--dry-run', '--json', '--data-dir', dataDir]);
  assert.is(JSON.parse(dry.stdout).deleted.length, 12);
  const refused = run('lake', ['vacuum', '--retention-hours', '0', '--data-dir', dataDir]);
  assert.is(refused.status, 1, 'a retention under 7 days needs --force');
  const vacuumed = run('lake', ['vacuum', '--retention-hours', '0', '--force', '--json', '--data-dir', dataDir]);
  assert.is(JSON.parse(vacuumed.stdout).deleted.length, 12);
  assert.is(run('query', ['SELECT * FROM events ORDER BY event_id', '--format', 'json', '--data-dir', dataDir]).stdout, before);

  const checkpoint = run('lake', ['checkpoint', '--json', '--data-dir', dataDir]);
  assert.is(checkpoint.status, 0, checkpoint.stderr);
  // Every remaining file is a valid Parquet file for a second reader, with the rows its stats promise.
  const tablePath = eventsTablePath(dataDir);
  const snapshot = await loadSnapshot(tablePath);
  assert.is(snapshot.checkpointVersion, JSON.parse(checkpoint.stdout).version);
  let rows = 0;
  for (const add of snapshot.files) {
    const buffer = readFileSync(dataFilePath(tablePath, add.path));
    const decoded = await parquetReadObjects({ file: buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) });
    assert.is(decoded.length, JSON.parse(add.stats!).numRecords);
    assert.is(buffer.byteLength, add.size);
    rows += decoded.length;
  }
  assert.is(rows, 300);
});

test.run();
