/**
 * The local dedup index's storage, beyond the rule itself (test/vectors.test.ts runs the shared dedup vectors):
 * expiry keeps it bounded even for clients whose clocks run ahead, and an index written by an earlier version
 * (one text key, player first) is carried over with every key still known.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StoredRow } from '../runtime/core/event.ts';
import { formatEpochMs } from '../runtime/core/timestamp.ts';
import { DedupIndex } from '../runtime/local/delta-writer/dedup-index.ts';

const T0 = Date.parse('2026-03-01T12:00:00Z');

function row(eventId: string, updatedMs: number, receivedMs: number, player = 'player-1'): StoredRow {
  return {
    event_id: eventId,
    event_type: 'Login',
    updated_at: formatEpochMs(updatedMs),
    event_data: null,
    player_id: player,
    received_at: formatEpochMs(receivedMs),
    source: 'ws',
  };
}

function withIndex(windowMs: number, run: (index: DedupIndex, path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-index-'));
  const path = join(dir, 'dedup.sqlite');
  try {
    const index = DedupIndex.open({ path, windowMs });
    try {
      run(index, path);
    } finally {
      index.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const admitted = (index: DedupIndex, rows: StoredRow[], position: number) =>
  index.admit(rows.map((r) => ({ row: r, position }))).map((r) => r.event_id);

test('expiry keeps the index within 1.25 windows, whatever the clients clocks say', () => {
  const windowMs = 60_000;
  withIndex(windowMs, (index, path) => {
    // On time, an hour behind (an offline backlog), and a year ahead of the server.
    const early = [row('on-time', T0, T0), row('behind', T0 - 3_600_000, T0), row('ahead', T0 + 365 * 86_400_000, T0)];
    admitted(index, early, 1);
    index.expire();
    assert.is(index.size(), 3, 'nothing is expired inside the window');
    assert.equal(admitted(index, [{ ...early[2]!, received_at: formatEpochMs(T0 + 30_000) }], 2), [], 'a re-send inside the window is dropped');
    // Time moves on (received_at is the index's clock) in steps smaller than the window.
    let now = T0;
    for (let step = 1; now < T0 + 2 * windowMs; step++) {
      now += 5_000;
      admitted(index, [row(`tick-${step}`, now, now)], 2 + step);
      index.expire();
    }
    const db = new Database(path, { readonly: true });
    const stale = db.prepare('SELECT event_keys.identity FROM event_keys WHERE received_at < ?').all((now - 1.25 * windowMs) * 1000);
    db.close();
    assert.equal(stale, [], 'no key received more than 1.25 windows ago is left');
    assert.equal(admitted(index, early.map((r) => ({ ...r, received_at: formatEpochMs(now) })), 100), ['on-time', 'behind', 'ahead'], 'after the window each counts as a new event');
  });
});

test('keys of a batch that never reached the table are forgotten', () => {
  withIndex(86_400_000, (index) => {
    admitted(index, [row('a', T0, T0)], 1);
    admitted(index, [row('b', T0 + 1, T0 + 1)], 2);
    assert.is(index.rollbackAfter(1), 1);
    assert.equal(admitted(index, [row('a', T0, T0 + 2), row('b', T0 + 1, T0 + 2)], 2), ['b']);
  });
});

test('an index written by an earlier version keeps every key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dedup-index-old-'));
  const path = join(dir, 'dedup.sqlite');
  try {
    const old = new Database(path);
    old.exec('CREATE TABLE seen (key TEXT PRIMARY KEY, received_at INTEGER NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID');
    const insert = old.prepare('INSERT INTO seen VALUES (?, ?, ?)');
    // The earlier key: length-prefixed player_id and event_id, event_type, updated_at, NUL-separated.
    const keys = old.transaction(() => Array.from({ length: 25_000 }, (_, i) => {
      const r = row(`e${i}`, T0 + i, T0 + 5_000, `p${i % 7}`);
      insert.run(`${r.player_id.length}:${r.player_id}\u0000${r.event_id.length}:${r.event_id}\u0000${r.event_type}\u0000${r.updated_at}`, (T0 + 5_000) * 1000, 1);
      return r;
    }))();
    old.close();

    const index = DedupIndex.open({ path, windowMs: 86_400_000 });
    try {
      assert.is(index.size(), keys.length);
      const resent = keys.map((r) => ({ ...r, received_at: formatEpochMs(T0 + 10_000) }));
      assert.equal(admitted(index, resent, 4), [], 'every earlier key still marks a re-send');
      assert.equal(admitted(index, [row('e1', T0 + 2, T0 + 10_000, 'p1')], 4), ['e1'], 'another updated_at is another event');
      assert.is(index.rollbackAfter(2), 1, 'positions came along: only the key admitted at position 4 is after 2');
    } finally {
      index.close();
    }
    const reopened = new Database(path, { readonly: true });
    assert.is((reopened.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'seen'").get() as { n: number }).n, 0, 'the old table is gone');
    reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
