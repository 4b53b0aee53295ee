import { type TelemetryEvent, frameOverheadBytes, putRecordsBody, putRecordsFrame, utf8Length } from './protocol.ts';

/** Which event goes when the outbox is full: the oldest waiting one (keep the latest picture) or the new one. */
export type DropPolicy = 'drop-oldest' | 'drop-newest';

/** An event waiting for a batch. */
interface Queued {
  readonly event: TelemetryEvent;
  readonly json: string;
  readonly bytes: number;
  /** Order of tracking; `flush()` waits for everything up to a sequence number. */
  readonly seq: number;
  /** `Date.now()` when tracked: an event waits at most the flush interval for its batch. */
  readonly trackedAt: number;
}

/** A batch kept until it is acked or refused. Re-sends use `frame` verbatim: same id, same events. */
export interface PendingBatch {
  readonly id: string;
  readonly events: readonly TelemetryEvent[];
  readonly eventsJson: readonly string[];
  readonly frame: string;
  /** Lowest tracking sequence number among its events: `flush()` waits for the batches at or below its mark. */
  readonly minSeq: number;
  /** `Date.now()` of the first send; 0 = never sent. */
  firstSentAt: number;
  /** The transport it is outstanding on: a socket, `rest`, or undefined when it waits to be (re-)sent. */
  sentOn: object | 'rest' | undefined;
  /** `Date.now()` of the latest send, for the ack timeout. */
  lastSentAt: number;
  /** Not before this time (a retryable error asked to wait). */
  retryAt: number;
  retryAttempt: number;
}

/** What a store keeps between runs: the undelivered events, batched or not, and the drop counter not yet reported. */
export interface OutboxSnapshot {
  readonly batches: readonly { readonly id: string; readonly events: readonly TelemetryEvent[] }[];
  readonly queued: readonly TelemetryEvent[];
  readonly dropped: number;
}

export interface OutboxLimits {
  readonly maxEvents: number;
  readonly batchMaxEvents: number;
  readonly batchMaxBytes: number;
  readonly dropPolicy: DropPolicy;
}

/**
 * The client's undelivered events: a bounded queue of events not yet batched, then the batches sent or waiting
 * to be sent, in order, until each is acked or refused. Pure bookkeeping: no timers, no I/O.
 */
export class Outbox {
  private queue: Queued[] = [];
  private head = 0;
  private queuedBytes = 0;
  readonly batches = new Map<string, PendingBatch>();
  private batchedEvents = 0;
  private seq = 0;
  private batchSeq = 0;
  /** Events dropped because the outbox was full, not yet reported to the server. */
  dropped = 0;
  /** Dropped since the client started, reported or not. */
  droppedTotal = 0;

  /** A frame's bytes besides its events, for a batch id of this client (prefix plus a base-36 counter). */
  private readonly frameOverhead: number;

  constructor(
    private readonly limits: OutboxLimits,
    private readonly batchIdPrefix: string,
  ) {
    this.frameOverhead = frameOverheadBytes(batchIdPrefix.length + 12);
  }

  /** Events waiting for a batch. */
  get queuedCount(): number {
    return this.queue.length - this.head;
  }

  /** Events in batches not yet acked. */
  get batchedCount(): number {
    return this.batchedEvents;
  }

  get size(): number {
    return this.queuedCount + this.batchedEvents;
  }

  /** The sequence number of the latest tracked event. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Adds an event; when full, drops one by the policy. Returns false when the new event itself was dropped. */
  push(event: TelemetryEvent, json = JSON.stringify(event), bypassLimit = false): boolean {
    if (!bypassLimit && this.size >= this.limits.maxEvents) {
      if (this.limits.dropPolicy === 'drop-newest' || this.queuedCount === 0) {
        this.countDrop(1);
        return false;
      }
      const oldest = this.queue[this.head++]!;
      this.queuedBytes -= oldest.bytes;
      this.countDrop(1);
    }
    const bytes = utf8Length(json);
    this.queue.push({ event, json, bytes, seq: ++this.seq, trackedAt: Date.now() });
    this.queuedBytes += bytes;
    this.compact();
    return true;
  }

  /** The smallest sequence number still undelivered, or Infinity. */
  oldestSeq(): number {
    let oldest = this.head < this.queue.length ? this.queue[this.head]!.seq : Infinity;
    for (const batch of this.batches.values()) oldest = Math.min(oldest, batch.minSeq);
    return oldest;
  }

  /** Whether enough is queued for a full batch. */
  hasFullBatch(): boolean {
    return this.queuedCount >= this.limits.batchMaxEvents || this.frameOverhead + this.queuedBytes + this.queuedCount >= this.limits.batchMaxBytes;
  }

  /** The oldest event waiting for a batch. */
  peekQueued(): { readonly seq: number; readonly trackedAt: number } | undefined {
    return this.queue[this.head];
  }

  /** Moves up to one batch's worth of queued events into a new pending batch. */
  takeBatch(): PendingBatch | undefined {
    if (this.queuedCount === 0) return undefined;
    const id = `${this.batchIdPrefix}-${(this.batchSeq++).toString(36)}`;
    const budget = this.limits.batchMaxBytes - frameOverheadBytes(id.length);
    const events: TelemetryEvent[] = [];
    const eventsJson: string[] = [];
    let bytes = 0;
    const minSeq = this.queue[this.head]!.seq;
    while (this.head < this.queue.length && events.length < this.limits.batchMaxEvents) {
      const next = this.queue[this.head]!;
      const size = next.bytes + (events.length > 0 ? 1 : 0);
      if (events.length > 0 && bytes + size > budget) break;
      bytes += size;
      events.push(next.event);
      eventsJson.push(next.json);
      this.queuedBytes -= next.bytes;
      this.head++;
    }
    this.compact();
    return this.addBatch(id, events, eventsJson, minSeq);
  }

  /** Removes a batch once acked or refused for good. */
  settle(id: string): PendingBatch | undefined {
    const batch = this.batches.get(id);
    if (!batch) return undefined;
    this.batches.delete(id);
    this.batchedEvents -= batch.events.length;
    return batch;
  }

  snapshot(): OutboxSnapshot {
    return {
      batches: [...this.batches.values()].map((batch) => ({ id: batch.id, events: batch.events })),
      queued: this.queue.slice(this.head).map((entry) => entry.event),
      dropped: this.dropped,
    };
  }

  /** Takes back what an earlier run left undelivered; its batches keep their ids, so a re-send is deduplicated. */
  restore(snapshot: OutboxSnapshot): void {
    for (const batch of snapshot.batches) {
      if (this.batches.has(batch.id) || batch.events.length === 0) continue;
      const eventsJson = batch.events.map((event) => JSON.stringify(event));
      this.addBatch(batch.id, batch.events, eventsJson, this.seq + 1);
      this.seq += batch.events.length;
    }
    for (const event of snapshot.queued) this.push(event, JSON.stringify(event), true);
    this.dropped += snapshot.dropped;
  }

  private addBatch(id: string, events: readonly TelemetryEvent[], eventsJson: readonly string[], minSeq: number): PendingBatch {
    const batch: PendingBatch = {
      id,
      events,
      eventsJson,
      frame: putRecordsFrame(id, eventsJson),
      minSeq,
      firstSentAt: 0,
      sentOn: undefined,
      lastSentAt: 0,
      retryAt: 0,
      retryAttempt: 0,
    };
    this.batches.set(id, batch);
    this.batchedEvents += events.length;
    return batch;
  }

  private countDrop(count: number): void {
    this.dropped += count;
    this.droppedTotal += count;
  }

  /** Drops consumed entries from the front once they are half the array: amortised O(1) shifts. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

/** The REST body for a pending batch. */
export function restBodyOf(batch: PendingBatch): string {
  return putRecordsBody(batch.eventsJson);
}
