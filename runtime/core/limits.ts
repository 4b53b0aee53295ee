/** Limits of the contract (ARCHITECTURE.md); most mirror a limit of the AWS service behind that part. */
export const LIMITS = Object.freeze({
  eventIdMaxChars: 128,
  eventTypeMaxChars: 64,
  /** `event_data` as UTF-8, after a non-string value is turned into its JSON text. */
  eventDataMaxBytes: 32 * 1024,
  /** Events in one `put-records` batch, REST or WebSocket. */
  batchMaxEvents: 500,
  /** A REST request body. */
  restBodyMaxBytes: 1024 * 1024,
  /** A WebSocket message: API Gateway's message payload limit. */
  wsMessageMaxBytes: 128 * 1024,
  /** A hub-stream record, data plus partition key: Kinesis' default per-record limit. */
  recordMaxBytes: 1024 * 1024,
});
