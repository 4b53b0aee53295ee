/**
 * Failures of the Delta library. Each carries a stable `code` that callers match on; the message is for people
 * (it names the table, the version or the feature) and may change.
 */
export type DeltaErrorCode =
  | 'table_not_found'
  | 'version_not_found'
  | 'unsupported_protocol'
  | 'corrupt_log'
  | 'commit_conflict';

export abstract class DeltaError extends Error {
  abstract readonly code: DeltaErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** No `_delta_log` directory, or one without any commit or checkpoint. */
export class DeltaTableNotFoundError extends DeltaError {
  override readonly name = 'DeltaTableNotFoundError';
  readonly code = 'table_not_found';

  constructor(
    readonly tablePath: string,
    message = `No Delta table at ${tablePath}: there is no _delta_log directory`,
  ) {
    super(message);
  }
}

/** Time travel to a version the log does not have (later than the latest, or not an integer ≥ 0). */
export class DeltaVersionNotFoundError extends DeltaError {
  override readonly name = 'DeltaVersionNotFoundError';
  readonly code = 'version_not_found';

  constructor(
    readonly tablePath: string,
    readonly version: number,
    message: string,
  ) {
    super(message);
  }
}

/** The table needs a reader or writer version, or a table feature, that this library does not implement. */
export class DeltaProtocolError extends DeltaError {
  override readonly name = 'DeltaProtocolError';
  readonly code = 'unsupported_protocol';
}

/** The log cannot be replayed: missing versions, an unreadable commit line, a checkpoint missing its parts. */
export class DeltaLogError extends DeltaError {
  override readonly name = 'DeltaLogError';
  readonly code = 'corrupt_log';
}

/** Another writer committed first and its changes conflict with ours (raised by the write side). */
export class DeltaCommitConflictError extends DeltaError {
  override readonly name = 'DeltaCommitConflictError';
  readonly code = 'commit_conflict';

  constructor(
    message: string,
    readonly version?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
