/**
 * The sink port: where the intake writes packed hub records. Kinesis on AWS, the SQLite hub stream on one machine.
 * One contract test suite (test/sink-contract.ts) runs against every implementation.
 */
import type { HubRecord } from '../core/hub-record.ts';

export type { HubRecord };

export interface FailedRecord {
  /** Index into the `records` passed to `putRecords`. */
  readonly index: number;
  readonly code: string;
  readonly message: string;
}

export interface PutRecordsResult {
  /** Records that were not stored after the adapter's own retries. Empty when all are durable. */
  readonly failed: readonly FailedRecord[];
}

export interface RecordSink {
  /**
   * Resolves once every record not listed in `failed` is durable. Partial failure is a value, not an exception;
   * it rejects only when the call as a whole could not be made.
   */
  putRecords(records: readonly HubRecord[]): Promise<PutRecordsResult>;
}
