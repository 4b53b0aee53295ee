import { existsSync } from 'node:fs';
import { loadSnapshot } from '../../delta/snapshot.ts';
import { eventsTablePath } from '../delta-writer/events-table.ts';
import { dataPaths } from '../data-paths.ts';
import { HubStream } from '../stream/hub-stream.ts';

/** The events table at a glance: version, files, rows and size per partition, txns, and the lag behind the stream. */
export async function tableStatus(dataDir: string) {
  const snapshot = await loadSnapshot(eventsTablePath(dataDir));
  const partitions = new Map<string, { event_type: string; files: number; rows: number; bytes: number }>();
  for (const add of snapshot.files) {
    const eventType = add.partitionValues.event_type ?? '(null)';
    const entry = partitions.get(eventType) ?? { event_type: eventType, files: 0, rows: 0, bytes: 0 };
    entry.files++;
    entry.bytes += add.size;
    entry.rows += add.stats ? Number(JSON.parse(add.stats).numRecords ?? 0) : 0;
    partitions.set(eventType, entry);
  }
  const txns = [...snapshot.txns.values()];
  const streamPath = dataPaths(dataDir).stream;
  let stream: { id: string; lastPosition: number } | undefined;
  if (existsSync(streamPath)) {
    const hub = HubStream.open({ path: streamPath, trimIntervalMs: 0 });
    stream = { id: hub.id, lastPosition: hub.lastPosition() };
    await hub.close();
  }
  const committed = stream ? snapshot.txns.get(`hub-stream-${stream.id}`)?.version ?? 0 : undefined;
  return {
    version: snapshot.version,
    files: snapshot.files.length,
    rows: snapshot.numRecords,
    bytes: snapshot.sizeInBytes,
    txns,
    stream,
    lag: stream && committed !== undefined ? stream.lastPosition - committed : undefined,
    partitions: [...partitions.values()].sort((a, b) => a.event_type.localeCompare(b.event_type)),
  };
}
