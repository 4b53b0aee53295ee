import { LIMITS } from '../../runtime/core/limits.ts';
import { BatchBuilder, restPutRecordBody, restPutRecordsBody, wsPutRecordsFrame } from './batches.ts';
import { EventGenerator } from './events.ts';
import type { Player, PlayerContext } from './player.ts';

/** `--dry-run`: generates and batches exactly as a real player would, and sends nothing. */
export class DryRunPlayer implements Player {
  private readonly builder: BatchBuilder;

  constructor(private readonly ctx: PlayerContext) {
    const { transport, batch } = ctx.options;
    const ws = transport === 'ws';
    this.builder = new BatchBuilder({
      generator: new EventGenerator(ctx.runId, ctx.index),
      idPrefix: `${ctx.runId}-${ctx.index}`,
      maxEvents: batch,
      maxBytes: ctx.tuning.maxPayloadBytes ?? (ws ? LIMITS.wsMessageMaxBytes : LIMITS.restBodyMaxBytes),
      format: ws ? wsPutRecordsFrame : batch === 1 ? restPutRecordBody : restPutRecordsBody,
    });
  }

  unackedEvents(): number {
    return 0;
  }

  async run(): Promise<void> {
    const { quota, stats, options, onBatch, abort } = this.ctx;
    while (!abort.aborted) {
      const count = await quota.take(options.batch);
      if (count === 0) return;
      stats.generated += count;
      for (const batch of this.builder.build(count)) {
        if (onBatch) await onBatch(batch);
      }
      // Yield now and then so that a run without --max-count still sees Ctrl-C and progress updates.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}
