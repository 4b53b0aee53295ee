import type { HubRecord, PutRecordsResult, RecordSink } from '../../runtime/adapters/sink.ts';
import type { StoredRow } from '../../runtime/core/event.ts';
import { UnauthorizedError } from '../../runtime/core/errors.ts';
import { decodeHubRecord } from '../../runtime/core/stored-row.ts';

/** An in-memory sink for handler tests: keeps what it was given, or fails on demand. */
export class MemorySink implements RecordSink {
  readonly records: HubRecord[] = [];
  /** 'throw' rejects the call, 'fail' reports every record failed. */
  mode: 'ok' | 'throw' | 'fail' = 'ok';

  async putRecords(records: readonly HubRecord[]): Promise<PutRecordsResult> {
    if (this.mode === 'throw') throw new Error('stream is down');
    if (this.mode === 'fail') {
      return { failed: records.map((_, index) => ({ index, code: 'stream_unavailable', message: 'throttled' })) };
    }
    this.records.push(...records);
    return { failed: [] };
  }

  rows(): StoredRow[] {
    return this.records.flatMap((record) => decodeHubRecord(record.data).rows);
  }
}

/** A verifier at the port: token "good-<player>" is player <player>; anything else is refused. */
export const fakeVerifier = {
  async verify(token: string) {
    if (!token.startsWith('good-')) throw new UnauthorizedError();
    return { playerId: token.slice(5), scope: 'guest' };
  },
};
