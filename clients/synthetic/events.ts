import { randomBytes } from 'node:crypto';

/** The event types the original Python test client sent. */
export const EVENT_TYPES = ['Login', 'Logout', 'New Game', 'Resume Game', 'End Game'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** `event_data` for synthetic events: famous movie quotes, as the original client used. ASCII only. */
export const MOVIE_QUOTES: readonly string[] = [
  "Frankly, my dear, I don't give a damn.",
  "I'm going to make him an offer he can't refuse.",
  'May the Force be with you.',
  "Here's looking at you, kid.",
  "You talkin' to me?",
  "Toto, I've a feeling we're not in Kansas anymore.",
  'Go ahead, make my day.',
  "I'll be back.",
  'Houston, we have a problem.',
  "There's no place like home.",
  'You had me at "hello."',
  "You can't handle the truth!",
  'Keep your friends close, but your enemies closer.',
  "Life is like a box of chocolates. You never know what you're gonna get.",
  "We're gonna need a bigger boat.",
  'Nobody puts Baby in a corner.',
  'I see dead people.',
  'To infinity and beyond!',
  'Why so serious?',
  'Elementary, my dear Watson.',
  "After all, tomorrow is another day!",
  'The only thing we have to fear is fear itself.',
];

/** An event as the intake takes it (ARCHITECTURE.md "Event"). */
export interface SyntheticEvent {
  readonly event_id: string;
  readonly event_type: EventType;
  readonly updated_at: string;
  readonly event_data: string;
}

/** A short random id for this run, so event and batch ids from two runs never collide. */
export function newRunId(): string {
  return randomBytes(4).toString('hex');
}

/**
 * Generates one player's events as ready-to-send JSON text.
 *
 * The hot path (~100k events/s in benchmarks) builds each event by concatenating fragments that were
 * JSON-encoded once up front: no JSON.stringify, no object, one random pick per field. Ids are
 * `<run>-<player>-<seq>`: unique within the run without a UUID per event.
 */
export class EventGenerator {
  private seq = 0;
  private readonly idPrefix: string;

  constructor(runId: string, player: number) {
    this.idPrefix = `{"event_id":"${runId}-${player}-`;
  }

  /** Events generated so far. */
  get count(): number {
    return this.seq;
  }

  /** The next event as JSON text. Only ASCII, so its length is its size in bytes. */
  next(): string {
    const type = TYPE_FRAGMENTS[(Math.random() * TYPE_FRAGMENTS.length) | 0]!;
    const data = DATA_FRAGMENTS[(Math.random() * DATA_FRAGMENTS.length) | 0]!;
    return this.idPrefix + this.seq++ + type + utcTimestampNow() + data;
  }
}

const TYPE_FRAGMENTS = EVENT_TYPES.map((type) => `","event_type":${JSON.stringify(type)},"updated_at":"`);
const DATA_FRAGMENTS = MOVIE_QUOTES.map((quote) => `","event_data":${JSON.stringify(quote)}}`);

let cachedSecond = -1;
let cachedPrefix = '';

/**
 * Now as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), the format of the original client (Python's `%f`).
 * The date part is formatted once per second; milliseconds come from the wall clock and the microsecond
 * digits from the monotonic clock's fraction, since `Date` has no microseconds.
 */
export function utcTimestampNow(): string {
  const ms = Date.now();
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    const iso = new Date(second * 1000).toISOString(); // 2024-02-22T03:03:02.000Z
    cachedPrefix = `${iso.slice(0, 10)} ${iso.slice(11, 19)}.`;
  }
  const subMicros = Math.floor((performance.now() % 1) * 1000);
  const micros = (ms - second * 1000) * 1000 + subMicros;
  return cachedPrefix + String(micros).padStart(6, '0');
}
