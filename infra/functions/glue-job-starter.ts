/**
 * Custom-resource handler that keeps the Glue streaming job running: CloudFormation only defines a job, it never
 * starts one. Create starts a run unless one is active; Update (the job's definition changed) stops the active run,
 * waits for it, and starts a new one so the new script and arguments take effect; Delete stops the active run so a
 * deleted stack leaves nothing billing.
 */
import { BatchStopJobRunCommand, GetJobRunsCommand, GlueClient, StartJobRunCommand } from '@aws-sdk/client-glue';
import type {
  BatchStopJobRunCommandOutput,
  GetJobRunsCommandOutput,
  StartJobRunCommandOutput,
} from '@aws-sdk/client-glue';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

/** The three Glue calls this handler makes, so tests can pass a hand-written fake. */
export interface GlueRunsClient {
  send(command: GetJobRunsCommand): Promise<GetJobRunsCommandOutput>;
  send(command: StartJobRunCommand): Promise<StartJobRunCommandOutput>;
  send(command: BatchStopJobRunCommand): Promise<BatchStopJobRunCommandOutput>;
}

/** What the Provider framework expects back. */
export interface StarterResult {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly JobRunId: string };
}

export interface StarterOptions {
  readonly client: GlueRunsClient;
  readonly sleep?: (ms: number) => Promise<void>;
  /** How often to look whether a stopped run has ended. */
  readonly pollMs?: number;
  /** How long to wait for it; the Lambda's own timeout must be longer. */
  readonly maxWaitMs?: number;
}

const ACTIVE_STATES: ReadonlySet<string> = new Set(['STARTING', 'RUNNING', 'STOPPING', 'WAITING']);

export function createGlueJobStarter(options: StarterOptions): (event: CloudFormationCustomResourceEvent) => Promise<StarterResult> {
  const { client } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const pollMs = options.pollMs ?? 15_000;
  const maxWaitMs = options.maxWaitMs ?? 12 * 60_000;

  async function activeRuns(jobName: string): Promise<{ id: string; state: string }[]> {
    // Runs come newest first; an active run is always among the newest.
    const output = await client.send(new GetJobRunsCommand({ JobName: jobName, MaxResults: 50 }));
    return (output.JobRuns ?? [])
      .filter((run) => run.Id !== undefined && ACTIVE_STATES.has(run.JobRunState ?? ''))
      .map((run) => ({ id: run.Id!, state: run.JobRunState! }));
  }

  async function stop(jobName: string): Promise<void> {
    const ids = (await activeRuns(jobName)).filter((run) => run.state !== 'STOPPING').map((run) => run.id);
    if (ids.length > 0) await client.send(new BatchStopJobRunCommand({ JobName: jobName, JobRunIds: ids }));
  }

  async function waitUntilIdle(jobName: string): Promise<void> {
    for (let waited = 0; ; waited += pollMs) {
      const active = await activeRuns(jobName);
      if (active.length === 0) return;
      if (waited >= maxWaitMs) {
        throw new Error(`Glue job ${jobName} still has run ${active[0]!.id} in state ${active[0]!.state}; stop it and redeploy`);
      }
      await sleep(pollMs);
    }
  }

  async function ensureRunning(jobName: string): Promise<string> {
    const active = (await activeRuns(jobName)).find((run) => run.state !== 'STOPPING');
    if (active) return active.id;
    try {
      const { JobRunId } = await client.send(new StartJobRunCommand({ JobName: jobName }));
      return JobRunId ?? '';
    } catch (error) {
      // A run started between our look and our call: the job is running, which is all we want.
      if (error instanceof Error && error.name === 'ConcurrentRunsExceededException') {
        return (await activeRuns(jobName))[0]?.id ?? '';
      }
      throw error;
    }
  }

  return async (event) => {
    const jobName = String(event.ResourceProperties['JobName'] ?? '');
    if (!jobName) throw new Error('the custom resource needs a JobName property');
    // One resource per job: a renamed job is a replacement, and CloudFormation deletes (stops) the old one.
    const physicalId = `glue-job-run:${jobName}`;

    if (event.RequestType === 'Delete') {
      try {
        await stop(jobName);
      } catch (error) {
        // Nothing to stop when the job was never created (a rolled-back first deploy) or is already gone.
        if (!(error instanceof Error && error.name === 'EntityNotFoundException')) throw error;
      }
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    if (event.RequestType === 'Update' && event.PhysicalResourceId === physicalId) {
      await stop(jobName);
      await waitUntilIdle(jobName);
    }
    return { PhysicalResourceId: physicalId, Data: { JobRunId: await ensureRunning(jobName) } };
  };
}

let handle: ReturnType<typeof createGlueJobStarter> | undefined;

/** The Lambda entry point. */
export const handler = (event: CloudFormationCustomResourceEvent): Promise<StarterResult> =>
  (handle ??= createGlueJobStarter({ client: new GlueClient({}) }))(event);
