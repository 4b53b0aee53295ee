// The hub stream's writer, on its own thread: a durable commit waits for fsync, and that wait must not stop the
// gateway's event loop from parsing the next requests. Plain JavaScript so it loads without a TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.path);
db.pragma(`busy_timeout = ${workerData.busyTimeoutMs}`);
// FULL: an acknowledged append must survive power loss, not only a process kill.
db.pragma('synchronous = FULL');
const insert = db.prepare('INSERT INTO records (partition_key, data, appended_at) VALUES (?, ?, ?)');
// IMMEDIATE takes the write lock up front, so a writer in another process is waited for (busy_timeout) instead
// of failing half-way through the transaction.
const insertAll = db.transaction((keys, datas, appendedAt) =>
  keys.map((key, i) => Number(insert.run(key, datas[i], appendedAt).lastInsertRowid)),
).immediate;

parentPort.on('message', (message) => {
  if (message.close) {
    db.close();
    parentPort.postMessage({ closed: true });
    return;
  }
  const { id, keys, datas, appendedAt } = message;
  try {
    // A COMMIT that failed can leave the transaction open; the next group must not nest inside it.
    if (db.inTransaction) db.exec('ROLLBACK');
    const positions = insertAll(keys, datas.map((data) => Buffer.from(data.buffer, data.byteOffset, data.byteLength)), appendedAt);
    parentPort.postMessage({ id, positions });
  } catch (error) {
    try {
      if (db.inTransaction) db.exec('ROLLBACK');
    } catch {
      // Tried again before the next group.
    }
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
