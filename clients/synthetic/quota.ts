import { sleep } from '../telemetry-client/backoff.ts';

/**
 * How many events the players may still generate, and when: the `--max-count` budget shared by all players,
 * paced to `--rate` events per second across them.
 *
 * With a rate, events are released in chunks of about 100 ms worth (at least 1), so `--rate 1000 --batch 500`
 * sends batches of 100 ten times a second rather than a burst of 500 every half second.
 */
export class Quota {
  private granted = 0;
  private startedAt = performance.now();
  private readonly chunk: number;
  private readonly stopper = new AbortController();

  /** `maxCount` 0 = unlimited; `rate` 0 = unpaced. */
  constructor(
    private readonly maxCount: number,
    private readonly rate: number,
  ) {
    this.chunk = rate > 0 ? Math.max(1, Math.floor(rate / 10)) : Infinity;
  }

  get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  /** Stops generating: pending and future `take` calls resolve 0. */
  stop(): void {
    this.stopper.abort();
  }

  /** Waits until events may be generated; resolves how many (at most `want`), 0 when generating is over. */
  async take(want: number): Promise<number> {
    for (;;) {
      if (this.stopped) return 0;
      const left = this.maxCount > 0 ? this.maxCount - this.granted : Infinity;
      const limit = Math.min(want, left);
      if (limit <= 0) return 0;
      if (this.rate <= 0) {
        this.granted += limit;
        return limit;
      }
      const now = performance.now();
      let allowed = this.allowedAt(now) - this.granted;
      // A player that fell behind (slow acks) may catch up by at most a second's worth, not burst its whole debt.
      const maxDebt = Math.max(this.chunk, this.rate);
      if (allowed > maxDebt) {
        this.startedAt += ((allowed - maxDebt) / this.rate) * 1000;
        allowed = maxDebt;
      }
      const needed = Math.min(limit, this.chunk);
      if (allowed >= needed) {
        const n = Math.min(limit, Math.floor(allowed));
        this.granted += n;
        return n;
      }
      const waitMs = ((needed - allowed) / this.rate) * 1000;
      if (!(await sleep(Math.max(1, waitMs), this.stopper.signal))) return 0;
    }
  }

  /** Events the schedule allows by `now`: an initial chunk, then `rate` per second. */
  private allowedAt(now: number): number {
    return this.chunk + ((now - this.startedAt) / 1000) * this.rate;
  }
}
