import type { EventGenerator } from './events.ts';

/** A batch as it is kept until acknowledged: re-sends reuse `payload` verbatim, so id and events never change. */
export interface Batch {
  readonly id: string;
  /** The events as JSON text, in order. */
  readonly events: readonly string[];
  /** The ready-to-send message or request body. */
  readonly payload: string;
}

/** Turns a batch id and its events (JSON text) into the message or body that carries them. */
export type BatchFormat = (id: string, events: readonly string[]) => string;

export interface BatchBuilderOptions {
  readonly generator: EventGenerator;
  /** Prefix of batch ids, e.g. `<run>-<player>`. */
  readonly idPrefix: string;
  readonly maxEvents: number;
  /** Largest payload in bytes; a batch that would exceed it is split. */
  readonly maxBytes: number;
  readonly format: BatchFormat;
}

/**
 * Draws events from a generator and packs them into batches of at most `maxEvents` events and `maxBytes`
 * bytes. Events and ids are ASCII, so string length is byte length: no per-event `Buffer.byteLength`.
 */
export class BatchBuilder {
  private seq = 0;

  constructor(private readonly options: BatchBuilderOptions) {}

  /** Generates `count` events and returns them as one or more batches (more only when the byte limit splits them). */
  build(count: number): Batch[] {
    const { generator, maxEvents, maxBytes, format } = this.options;
    const batches: Batch[] = [];
    let id = this.nextId();
    let events: string[] = [];
    let bytes = format(id, events).length;
    for (let i = 0; i < count; i++) {
      const event = generator.next();
      const size = event.length + (events.length > 0 ? 1 : 0); // the comma between events
      if (events.length > 0 && (bytes + size > maxBytes || events.length >= maxEvents)) {
        batches.push({ id, events, payload: format(id, events) });
        id = this.nextId();
        events = [];
        bytes = format(id, events).length;
      }
      bytes += event.length + (events.length > 0 ? 1 : 0);
      events.push(event);
    }
    if (events.length > 0) batches.push({ id, events, payload: format(id, events) });
    return batches;
  }

  private nextId(): string {
    return `${this.options.idPrefix}-b${this.seq++}`;
  }
}

/** The WebSocket message: `{"action":"put-records","id":…,"events":[…]}`. */
export const wsPutRecordsFrame: BatchFormat = (id, events) =>
  `{"action":"put-records","id":"${id}","events":[${events.join(',')}]}`;

/** The REST `POST /put-records` body: `{"events":[…]}`. */
export const restPutRecordsBody: BatchFormat = (_id, events) => `{"events":[${events.join(',')}]}`;

/** The REST `POST /put-record` body: the one event itself. */
export const restPutRecordBody: BatchFormat = (_id, events) => events[0] ?? '';
