/**
 * `npm run lake -- status|optimize|vacuum|checkpoint`: maintenance of the local events table.
 */
import { writeCheckpoint } from '../../delta/checkpoint-writer.ts';
import { optimize } from '../../delta/optimize.ts';
import { loadSnapshot } from '../../delta/snapshot.ts';
import { vacuum } from '../../delta/vacuum.ts';
import { LOCAL_ENV } from '../config.ts';
import { runTableCommand, usage } from './command-line.ts';
import { formatRows } from './format-rows.ts';
import { tableStatus } from './table-status.ts';

const HELP = `Usage: npm run lake -- <command> [options]

Commands:
  status                 version, files, rows and size per partition, the last txn, the lag behind the stream
  optimize               compact small files per partition (dataChange=false)  [--target-mb 128]
  vacuum                 delete data files no longer referenced and older than the retention
                         [--retention-hours 168] [--dry-run] [--force (allow < 168 h)]
  checkpoint             write a checkpoint of the current version now

Options:
  --data-dir DIR         the pipeline's data directory [./data, env ${LOCAL_ENV.dataDir}]
  --json                 machine-readable output
  -h, --help             this help`;

process.exitCode = await runTableCommand(
  HELP,
  {
    json: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
    'retention-hours': { type: 'string' },
    'target-mb': { type: 'string' },
  },
  async ({ values, positionals }, { dataDir, tablePath }) => {
    const command = positionals[0];
    if (!['status', 'optimize', 'vacuum', 'checkpoint'].includes(command ?? '') || positionals.length !== 1) {
      return usage('Give one command: status, optimize, vacuum or checkpoint.', HELP);
    }
    const print = (value: unknown, text: () => string) => console.log(values.json ? JSON.stringify(value, null, 2) : text());

    if (command === 'status') {
      const status = await tableStatus(dataDir);
      print(status, () =>
        [
          `table      ${tablePath}`,
          `version    ${status.version}`,
          `files      ${status.files}   rows ${status.rows ?? 'unknown'}   size ${mib(status.bytes)}`,
          `txn        ${status.txns.map((t) => `${t.appId} @ ${t.version}`).join(', ') || 'none'}`,
          `stream     last position ${status.stream?.lastPosition ?? 'no stream'}   lag ${status.lag ?? 'unknown'}`,
          '',
          formatRows(['event_type', 'files', 'rows', 'size'], status.partitions.map((p) => ({ ...p, size: mib(p.bytes) })), 'table'),
        ].join('\n'),
      );
    } else if (command === 'optimize') {
      const targetMb = Number(values['target-mb'] ?? 128);
      const result = await optimize(tablePath, { targetFileBytes: targetMb * 1024 * 1024 });
      print(result, () =>
        result.version === null
          ? 'Nothing to compact: no partition has two or more small files.'
          : `OPTIMIZE committed version ${result.version}: ${result.filesRemoved} files → ${result.filesAdded} in ${result.partitionsOptimized} partitions (${mib(result.bytesRemoved)} → ${mib(result.bytesAdded)}).`,
      );
    } else if (command === 'vacuum') {
      const retentionMs = values['retention-hours'] === undefined ? undefined : Number(values['retention-hours']) * 3_600_000;
      const result = await vacuum(tablePath, {
        ...(retentionMs === undefined ? {} : { retentionMs }),
        dryRun: values['dry-run'] ?? false,
        force: values.force ?? false,
      });
      print(result, () =>
        [
          `${result.dryRun ? 'Would delete' : 'Deleted'} ${result.deleted.length} files (${mib(result.deletedBytes)}); kept ${result.keptLive} live files and ${result.keptRecent.length} recent unreferenced ones.`,
          ...result.deleted.map((path) => `  ${path}`),
        ].join('\n'),
      );
    } else {
      const info = await writeCheckpoint(await loadSnapshot(tablePath));
      print(info, () => `Checkpoint written at version ${info.version}.`);
    }
    return 0;
  },
);

function mib(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

