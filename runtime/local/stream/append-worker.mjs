// The hub stream's writer, on its own thread: a durable commit waits for fsync, and that wait must not stop the
// gateway's event loop from parsing the next requests. Plain JavaScript so it loads without a TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.path);
db.pragma(`busy_timeout = ${workerData.busyTimeoutMs}`);
// FULL: an acknowledged append must survive power loss, not only a process kill.
db.pragma('synchronous = FULL');
db.pragma(`wal_autocheckpoint = ${workerData.checkpointPages}`);
const insert = db.prepare('INSERT INTO records (partition_key, data, appended_at) VALUES (?, ?, ?)');
// IMMEDIATE takes the write lock up front, so a writer in another process is waited for (busy_timeout) instead
// of failing half-way through the transaction.
const insertAll = db.transaction((appends) => {
  const positions = [];
  for (const { keys, lengths, data, appendedAt } of appends) {
    let offset = 0;
    for (let i = 0; i < keys.length; i++) {
      // better-sqlite3 binds a Buffer as a BLOB; this one is a view of the transferred bytes, not a copy.
      const bytes = Buffer.from(data.buffer, data.byteOffset + offset, lengths[i]);
      offset += lengths[i];
      positions.push(Number(insert.run(keys[i], bytes, appendedAt).lastInsertRowid));
    }
  }
  return positions;
}).immediate;

// Appends that arrived while the previous transaction ran; they are committed together in the next one.
let waiting = [];
let scheduled = false;
let closing = false;

parentPort.on('message', (message) => {
  if (message.close) closing = true;
  else waiting.push(message);
  // The callbacks for every message already queued run before setImmediate's, so one transaction takes them all.
  if (!scheduled) {
    scheduled = true;
    setImmediate(commit);
  }
});

function commit() {
  scheduled = false;
  const appends = waiting;
  waiting = [];
  if (appends.length > 0) {
    const ids = appends.map((append) => append.id);
    try {
      // A COMMIT that failed can leave the transaction open; the next group must not nest inside it.
      if (db.inTransaction) db.exec('ROLLBACK');
      const positions = insertAll(appends);
      parentPort.postMessage({ ids, counts: appends.map((append) => append.keys.length), positions });
    } catch (error) {
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // Tried again before the next group.
      }
      parentPort.postMessage({ ids, error: error instanceof Error ? error.message : String(error) });
    }
  }
  if (closing && waiting.length === 0) {
    db.close();
    parentPort.postMessage({ closed: true });
  }
}
