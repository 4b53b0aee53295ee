/** Where the stack finds the code it deploys: the repository's own files, so synth needs nothing but a checkout. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The module whose exports are the Lambda handlers; the local gateway runs the same factories. */
export const LAMBDA_ENTRY = join(REPO_ROOT, 'runtime/handlers/lambda.ts');

export const LOCK_FILE = join(REPO_ROOT, 'package-lock.json');

export const GLUE_DIR = join(REPO_ROOT, 'glue');

export const GLUE_SCRIPT = join(GLUE_DIR, 'delta_lake_job.py');

/**
 * The job's helper modules: every other top-level `.py` in the script's folder except tests, shipped as
 * `--extra-py-files` so the script can import its pure transforms.
 */
export function glueModulesBeside(script: string): string[] {
  const dir = join(script, '..');
  const name = script.slice(dir.length + 1);
  return readdirSync(dir)
    .filter((file) => file.endsWith('.py') && file !== name && !/^test_|_test\.py$|^conftest\.py$/.test(file))
    .sort()
    .map((file) => join(dir, file));
}
