/**
 * The sink port on AWS: PutRecords into the hub Kinesis stream. This adapter owns the Kinesis limits and turns
 * partial failures into retries of only the failed entries; what still fails is returned as data.
 */
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { PutRecordsCommandOutput, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import type { FailedRecord, HubRecord, PutRecordsResult, RecordSink } from './sink.ts';
import { LIMITS } from '../core/limits.ts';

/** Kinesis PutRecords quotas. */
export const KINESIS_LIMITS = Object.freeze({
  requestMaxRecords: 500,
  /** Data plus partition keys of one PutRecords call. */
  requestMaxBytes: 10 * 1024 * 1024,
  /** Data plus partition key of one record. */
  recordMaxBytes: LIMITS.recordMaxBytes,
  partitionKeyMaxChars: 256,
});

/** The one method of KinesisClient this adapter uses, so tests can pass a hand-written fake. */
export interface KinesisPutRecordsClient {
  send(command: PutRecordsCommand): Promise<PutRecordsCommandOutput>;
}

export type KinesisSinkOptions = {
  readonly client: KinesisPutRecordsClient;
  /** Attempts per record, the first one included. Default 5. */
  readonly maxAttempts?: number;
  /** Backoff before retry n is between half and all of baseDelayMs * 2^(n-1), capped at maxDelayMs. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). */
  readonly random?: () => number;
} & ({ readonly streamName: string; readonly streamArn?: string } | { readonly streamArn: string; readonly streamName?: string });

/** Errors that no retry can fix: give up at once instead of spending the caller's latency on them. */
const PERMANENT_ERRORS = new Set([
  'ValidationException',
  'InvalidArgumentException',
  'ResourceNotFoundException',
  'AccessDeniedException',
]);

interface Entry {
  readonly index: number;
  readonly request: PutRecordsRequestEntry;
  readonly bytes: number;
}

export function createKinesisSink(options: KinesisSinkOptions): RecordSink {
  const { client, streamName, streamArn } = options;
  if (!streamName && !streamArn) throw new TypeError('createKinesisSink needs a streamName or a streamArn');
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const baseDelayMs = options.baseDelayMs ?? 50;
  const maxDelayMs = options.maxDelayMs ?? 5000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const target = { ...(streamName ? { StreamName: streamName } : {}), ...(streamArn ? { StreamARN: streamArn } : {}) };

  async function putRecords(records: readonly HubRecord[]): Promise<PutRecordsResult> {
    const failed: FailedRecord[] = [];
    let pending: Entry[] = [];
    records.forEach((record, index) => {
      const keyBytes = Buffer.byteLength(record.partitionKey, 'utf8');
      const bytes = record.data.byteLength + keyBytes;
      const keyLength = record.partitionKey.length;
      if (keyLength < 1 || keyLength > KINESIS_LIMITS.partitionKeyMaxChars) {
        failed.push({ index, code: 'invalid_value', message: `partition key must be 1-256 characters, got ${keyLength}` });
      } else if (bytes > KINESIS_LIMITS.recordMaxBytes) {
        failed.push({
          index,
          code: 'too_large',
          message: `record is ${bytes} bytes with its partition key; the limit is ${KINESIS_LIMITS.recordMaxBytes}`,
        });
      } else {
        pending.push({ index, bytes, request: { Data: record.data, PartitionKey: record.partitionKey } });
      }
    });

    const lastError = new Map<number, string>();
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) {
        const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 2));
        await sleep(ceiling / 2 + (random() * ceiling) / 2);
      }
      const retry: Entry[] = [];
      // Calls go one after another so a player's records reach the shard in the order they were given.
      for (const chunk of chunks(pending)) {
        try {
          const output = await client.send(new PutRecordsCommand({ ...target, Records: chunk.map((e) => e.request) }));
          chunk.forEach((entry, i) => {
            const result = output.Records?.[i];
            if (result && !result.ErrorCode) return;
            lastError.set(
              entry.index,
              result?.ErrorCode
                ? `${result.ErrorCode}: ${result.ErrorMessage ?? ''}`.trim()
                : 'Kinesis returned no result for this record',
            );
            retry.push(entry);
          });
        } catch (error) {
          const message = errorMessage(error);
          for (const entry of chunk) lastError.set(entry.index, message);
          if (PERMANENT_ERRORS.has(errorName(error))) {
            for (const entry of chunk) failed.push(unavailable(entry.index, message));
          } else {
            retry.push(...chunk);
          }
        }
      }
      pending = retry;
      if (attempt >= maxAttempts) break;
    }
    for (const entry of pending) failed.push(unavailable(entry.index, lastError.get(entry.index) ?? 'not stored'));
    return { failed: failed.sort((a, b) => a.index - b.index) };
  }

  return { putRecords };
}

/** Splits into PutRecords calls within the record-count and byte quotas, keeping the order. */
function chunks(entries: readonly Entry[]): Entry[][] {
  const out: Entry[][] = [];
  let current: Entry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (
      current.length === KINESIS_LIMITS.requestMaxRecords ||
      (current.length > 0 && bytes + entry.bytes > KINESIS_LIMITS.requestMaxBytes)
    ) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.bytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function unavailable(index: number, message: string): FailedRecord {
  return { index, code: 'stream_unavailable', message };
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
}
