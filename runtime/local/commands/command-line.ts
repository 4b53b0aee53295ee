import { resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { parseArgs } from 'node:util';
import { closeDuckDb } from '../../delta/duckdb.ts';
import { DeltaTableNotFoundError } from '../../delta/errors.ts';
import { LOCAL_ENV } from '../config.ts';
import { eventsTablePath } from '../delta-writer/events-table.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * What the table commands share: `--help`, `--data-dir` (with its environment variable), usage errors with the
 * help text (exit 2), and table errors that say what to do next (exit 1).
 */
export async function runTableCommand<O extends Options>(
  help: string,
  options: O,
  work: (
    args: ReturnType<typeof parseArgs<{ options: O & { 'data-dir': { type: 'string' }; help: { type: 'boolean' } }; allowPositionals: true }>>,
    where: { dataDir: string; tablePath: string },
  ) => Promise<number>,
): Promise<number> {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: { ...options, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${help}`);
    return 2;
  }
  const values = args.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    console.log(help);
    return 0;
  }
  const dataDir = resolve((values['data-dir'] as string | undefined) ?? process.env[LOCAL_ENV.dataDir] ?? './data');
  const tablePath = eventsTablePath(dataDir);
  try {
    return await work(args as never, { dataDir, tablePath });
  } catch (error) {
    if (error instanceof DeltaTableNotFoundError) {
      console.error(`No events table at ${tablePath}: start the pipeline (npm start) and send events first, or pass --data-dir.`);
    } else {
      console.error((error as Error).message);
    }
    return 1;
  } finally {
    await closeDuckDb();
  }
}

/** A usage error: the message, then the help text, exit status 2. */
export function usage(message: string, help: string): number {
  console.error(`${message}\n\n${help}`);
  return 2;
}
