import { once } from 'node:events';
import cliProgress from 'cli-progress';
import { HELP_TEXT, parseCliArgs } from './options.ts';
import { type Progress, runSynthetic } from './run.ts';
import { formatSummary } from './summary-format.ts';

/** `npm run synthetic -- …`: parse, run, print the summary; exit 0 only when every event was acknowledged. */
async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseCliArgs(argv, process.stderr.isTTY === true);
  if (parsed.kind === 'help') {
    process.stdout.write(`${HELP_TEXT}\n`);
    return 0;
  }
  if (parsed.kind === 'invalid') {
    process.stderr.write(`${parsed.problems.map((p) => `error: ${p}`).join('\n')}\nRun with --help for the options.\n`);
    return 2;
  }
  const options = parsed.options;

  // First Ctrl-C: stop generating, wait briefly for acks, summarise. Second: leave at once.
  const interrupt = new AbortController();
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);

  // `--console | head` closes stdout early: stop quietly instead of dying on EPIPE.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') interrupt.abort();
    else throw err;
  });

  const bar = options.progress ? createProgressBar(options.maxCount, options.dryRun) : undefined;
  const summary = await runSynthetic(options, {
    signal: interrupt.signal,
    onProgress: bar ? (progress) => bar.update(progress) : undefined,
    onBatch: options.console
      ? async (batch) => {
          if (process.stdout.writable && !process.stdout.write(`${batch.events.join('\n')}\n`)) {
            await once(process.stdout, 'drain');
          }
        }
      : undefined,
  });
  bar?.stop();
  process.off('SIGINT', onSigint);

  // With --console, stdout carries the events (NDJSON): the human summary goes to stderr.
  if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else (options.console ? process.stderr : process.stdout).write(`${formatSummary(summary)}\n`);
  if (options.json && summary.error !== undefined) process.stderr.write(`error: ${summary.error}\n`);
  return summary.ok ? 0 : 1;
}

function createProgressBar(target: number, dryRun: boolean): { update(progress: Progress): void; stop(): void } {
  const bounded = target > 0;
  const unit = dryRun ? 'generated' : 'acked';
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: bounded
        ? `synthetic |{bar}| {percentage}% | {value}/{total} ${unit} | sent {sent} | rejected {rejected} | {rate} ev/s`
        : `synthetic | {value} ${unit} | sent {sent} | rejected {rejected} | {rate} ev/s | Ctrl-C to stop`,
      hideCursor: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(bounded ? target : 0, 0, { sent: 0, rejected: 0, rate: 0 });
  return {
    update(progress) {
      // A dry run acknowledges nothing: its progress is what it generated.
      const value = dryRun ? progress.generated : progress.acked + progress.rejected;
      const rate = progress.elapsedMs > 0 ? Math.round((value * 1000) / progress.elapsedMs) : 0;
      bar.update(value, { sent: progress.sent, rejected: progress.rejected, rate });
    },
    stop() {
      bar.stop();
    },
  };
}

const code = await main(process.argv.slice(2));
// Leave now: a socket a misbehaving server never closes must not hold the exit hostage.
process.exitCode = code;
if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
process.exit(code);
