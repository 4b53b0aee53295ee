/**
 * Crash-test hooks. With `TELEMETRY_FAILPOINT=<name>` in the environment, the process kills itself with SIGKILL the
 * first time it reaches the point of that name: a crash at the worst moment, on purpose, so a test can prove the
 * restart loses and duplicates nothing there. Unset (always, outside those tests), each point is one comparison.
 *
 * The points: `delta-writer:before-commit` (Parquet files written, the Delta commit not yet),
 * `delta-writer:after-commit` (committed, the stream position not yet recorded), `raw-archive:before-rename`
 * (archive file written under its temporary name), `raw-archive:after-rename` (renamed, position not recorded).
 */
const ARMED = process.env.TELEMETRY_FAILPOINT;

export const FAILPOINTS = [
  'delta-writer:before-commit',
  'delta-writer:after-commit',
  'raw-archive:before-rename',
  'raw-archive:after-rename',
] as const;

export type Failpoint = (typeof FAILPOINTS)[number];

export function failpoint(name: Failpoint): void {
  if (ARMED === name) process.kill(process.pid, 'SIGKILL');
}
