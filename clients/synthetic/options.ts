import { withTrailingSlash } from '../telemetry-client/identity.ts';
import { parseArgs } from 'node:util';
import { LIMITS } from '../../runtime/core/limits.ts';

export type Transport = 'ws' | 'rest';

/** What to generate and where to send it: everything `runSynthetic` needs, nothing about printing. */
export interface SyntheticOptions {
  /** Identity base URL; `login-as-guest` and `refresh-access-token` are resolved against it. */
  readonly loginEndpoint: string;
  /** Intake base URL: `ws(s)://` for the WebSocket transport, `http(s)://` for REST. */
  readonly backendEndpoint: string;
  readonly transport: Transport;
  /** Total events across all players; 0 = until interrupted. */
  readonly maxCount: number;
  /** Events per batch (1–500); `--batch 1` over REST uses `POST /put-record`. */
  readonly batch: number;
  /** Events per second across all players; 0 = as fast as acks allow. */
  readonly rate: number;
  readonly players: number;
  /** Unacknowledged batches per player (per socket, or concurrent requests over REST). */
  readonly maxInFlight: number;
  readonly dryRun: boolean;
}

/** The CLI's options: the run's, plus how to show it. */
export interface CliOptions extends SyntheticOptions {
  readonly console: boolean;
  readonly progress: boolean;
  readonly json: boolean;
}

export const DEFAULT_LOGIN_ENDPOINT = 'http://127.0.0.1:8787/';
export const DEFAULT_WS_ENDPOINT = 'ws://127.0.0.1:8787/';
export const DEFAULT_REST_ENDPOINT = 'http://127.0.0.1:8787/';

export const DEFAULT_OPTIONS: SyntheticOptions = Object.freeze({
  loginEndpoint: DEFAULT_LOGIN_ENDPOINT,
  backendEndpoint: DEFAULT_WS_ENDPOINT,
  transport: 'ws',
  maxCount: 1000,
  batch: 100,
  rate: 0,
  players: 1,
  maxInFlight: 8,
  dryRun: false,
});

export const HELP_TEXT = `Usage: npm run synthetic -- [options]

Logs in as guest players and streams synthetic game events to the telemetry intake,
over WebSocket (default) or REST. Every batch is kept until the server acknowledges it;
after a disconnect the client reconnects and re-sends exactly the unacknowledged batches.

Options:
  --login-endpoint URL    identity base URL            (default ${DEFAULT_LOGIN_ENDPOINT})
  --backend-endpoint URL  intake base URL              (default ${DEFAULT_WS_ENDPOINT} for ws,
                                                                 ${DEFAULT_REST_ENDPOINT} for rest)
  --transport ws|rest     how to send events           (default ${DEFAULT_OPTIONS.transport})
  --max-count N           total events, 0 = until Ctrl-C (default ${DEFAULT_OPTIONS.maxCount})
  --batch N               events per batch, 1-${LIMITS.batchMaxEvents}     (default ${DEFAULT_OPTIONS.batch})
  --rate N                events/s across all players, 0 = as fast as acks allow (default ${DEFAULT_OPTIONS.rate})
  --players N             concurrent guest players, each with its own login and socket (default ${DEFAULT_OPTIONS.players})
  --max-in-flight N       unacknowledged batches per player (default ${DEFAULT_OPTIONS.maxInFlight})
  --dry-run               generate and count events, no network (default off)
  --console               print each event as one JSON line on stdout (default off)
  --no-progress           no progress bar (default: shown when stderr is a terminal)
  --json                  print the final summary as JSON on stdout (default off)
  -h, --help              show this help

Event ids are "<run>-<player>-<seq>": unique per event within a run, and across runs
because <run> is random. Batch ids are "<run>-<player>-b<seq>".

Exit status: 0 when every generated event was acknowledged (accepted or rejected by
validation), 1 when the client gave up or events stayed unacknowledged, 2 on bad options.

Examples:
  npm start                                   # in another terminal: the local pipeline
  npm run synthetic -- --max-count 100000 --players 4
  npm run synthetic -- --transport rest --batch 1 --max-count 10
  npm run synthetic -- --dry-run --console --max-count 5`;

export type ParsedArgs =
  | { readonly kind: 'help' }
  | { readonly kind: 'run'; readonly options: CliOptions }
  | { readonly kind: 'invalid'; readonly problems: readonly string[] };

/** Parses the CLI arguments; reports every problem at once rather than the first. */
export function parseCliArgs(argv: readonly string[], isTty = false): ParsedArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'login-endpoint': { type: 'string' },
        'backend-endpoint': { type: 'string' },
        transport: { type: 'string' },
        'max-count': { type: 'string' },
        batch: { type: 'string' },
        rate: { type: 'string' },
        players: { type: 'string' },
        'max-in-flight': { type: 'string' },
        'dry-run': { type: 'boolean' },
        console: { type: 'boolean' },
        'no-progress': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return { kind: 'invalid', problems: [(err as Error).message] };
  }
  if (values.help === true) return { kind: 'help' };

  const problems: string[] = [];
  const str = (name: string): string | undefined => values[name] as string | undefined;

  const transportArg = str('transport') ?? DEFAULT_OPTIONS.transport;
  let transport: Transport = DEFAULT_OPTIONS.transport;
  if (transportArg === 'ws' || transportArg === 'rest') transport = transportArg;
  else problems.push(`--transport must be "ws" or "rest", got "${transportArg}"`);

  const number = (name: string, fallback: number, min: number, max: number, integer = true): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
      problems.push(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };

  const url = (name: string, fallback: string, schemes: readonly string[]): string => {
    const raw = str(name) ?? fallback;
    try {
      const parsed = new URL(raw);
      if (!schemes.includes(parsed.protocol)) {
        problems.push(`--${name} must be a ${schemes.join(' or ')} URL, got "${raw}"`);
      }
    } catch {
      problems.push(`--${name} is not a URL: "${raw}"`);
    }
    return raw;
  };

  const options: CliOptions = {
    loginEndpoint: url('login-endpoint', DEFAULT_LOGIN_ENDPOINT, ['http:', 'https:']),
    backendEndpoint: url('backend-endpoint', defaultBackendEndpoint(transport), ['ws:', 'wss:', 'http:', 'https:']),
    transport,
    maxCount: number('max-count', DEFAULT_OPTIONS.maxCount, 0, Number.MAX_SAFE_INTEGER),
    batch: number('batch', DEFAULT_OPTIONS.batch, 1, LIMITS.batchMaxEvents),
    rate: number('rate', DEFAULT_OPTIONS.rate, 0, 1e9, false),
    players: number('players', DEFAULT_OPTIONS.players, 1, 10_000),
    maxInFlight: number('max-in-flight', DEFAULT_OPTIONS.maxInFlight, 1, 10_000),
    dryRun: values['dry-run'] === true,
    console: values.console === true,
    progress: values['no-progress'] !== true && isTty,
    json: values.json === true,
  };
  return problems.length > 0 ? { kind: 'invalid', problems } : { kind: 'run', options };
}

export function defaultBackendEndpoint(transport: Transport): string {
  return transport === 'ws' ? DEFAULT_WS_ENDPOINT : DEFAULT_REST_ENDPOINT;
}

/**
 * The backend URL with the scheme the transport needs and a trailing slash, so one `--backend-endpoint`
 * works for both transports (`http://host/` becomes `ws://host/` for ws, and the other way round).
 */
export function backendUrlFor(transport: Transport, endpoint: string): URL {
  const url = new URL(endpoint);
  const secure = url.protocol === 'https:' || url.protocol === 'wss:';
  const wanted = transport === 'ws' ? (secure ? 'wss:' : 'ws:') : secure ? 'https:' : 'http:';
  // WHATWG URL refuses to switch between "special" schemes in place for some pairs; rebuild instead.
  const rebuilt = new URL(`${wanted}//${url.host}${url.pathname}${url.search}`);
  return withTrailingSlash(rebuilt);
}

