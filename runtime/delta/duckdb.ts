import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * One in-memory DuckDB per process, created on first use: the Delta reader uses it for `read_parquet`, the
 * writer for `COPY … TO parquet`. DuckDB serialises queries on one connection; code that wants queries to run in
 * parallel (or holds a streaming result open) takes its own connection from `openDuckDbConnection()`.
 */
let instance: Promise<DuckDBInstance> | undefined;
let shared: Promise<DuckDBConnection> | undefined;
let threads: number | undefined;

/**
 * Caps this process's (or worker thread's) DuckDB at `count` threads; call before its first use. The Delta writer
 * takes one: its Parquet writes then never take both cores from the intake's acknowledgements.
 */
export function limitDuckDbThreads(count: number): void {
  if (instance) throw new Error('limitDuckDbThreads() must come before the first DuckDB use');
  threads = count;
}

async function createInstance(): Promise<DuckDBInstance> {
  const db = await DuckDBInstance.create(':memory:');
  const setup = await db.connect();
  try {
    // The TimeZone option cannot go in create(): it needs the ICU extension, loaded only after start-up.
    // GLOBAL so every later connection renders and casts TIMESTAMPTZ in UTC, like the Delta table does.
    await setup.run(`SET GLOBAL TimeZone = 'UTC'`);
    // DuckDB would otherwise keep up to 80% of the machine's memory as buffer pool; the writer's batches and the
    // query command need far less, and the pipeline shares the machine with the intake.
    await setup.run(`SET GLOBAL memory_limit = '256MB'`);
    // DuckDB would keep what it reads of each file in memory, by path, until the memory limit evicts it. A
    // long-running process reads many files once each (checkpoints after a lost commit race, data files for OPTIMIZE
    // and queries), so that cache only grew. The files are local: the operating system's page cache serves re-reads.
    await setup.run(`SET GLOBAL enable_external_file_cache = false`);
    if (threads !== undefined) await setup.run(`SET GLOBAL threads = ${Math.max(1, Math.floor(threads))}`);
  } finally {
    setup.closeSync();
  }
  return db;
}

function getInstance(): Promise<DuckDBInstance> {
  instance ??= createInstance().catch((error: unknown) => {
    instance = undefined; // let the next call try again
    throw error;
  });
  return instance;
}

/** The process-wide shared connection. */
export function duckdb(): Promise<DuckDBConnection> {
  shared ??= openDuckDbConnection().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

/** A connection of its own on the shared instance; the caller closes it with `closeSync()`. */
export async function openDuckDbConnection(): Promise<DuckDBConnection> {
  return (await getInstance()).connect();
}

/** Closes the shared connection and the instance (tests, shutdown). The next `duckdb()` starts a new one. */
export async function closeDuckDb(): Promise<void> {
  const connection = shared;
  const db = instance;
  shared = undefined;
  instance = undefined;
  (await connection?.catch(() => undefined))?.closeSync();
  (await db?.catch(() => undefined))?.closeSync();
}
