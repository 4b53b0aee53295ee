/**
 * `npm start`: the telemetry pipeline on one machine. Runs until SIGINT/SIGTERM, then drains and stops cleanly.
 */
import { ConfigError, helpText, readLocalConfig } from './config.ts';
import { startLocalPipeline } from './pipeline.ts';

async function main(): Promise<void> {
  let command;
  try {
    command = readLocalConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  if (command.help) {
    console.log(helpText());
    return;
  }
  const { config } = command;
  let pipeline;
  try {
    pipeline = await startLocalPipeline(config);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      console.error(`Port ${config.port} on ${config.host} is in use: stop the other process or pass --port 0 for a free one.`);
      process.exit(1);
    }
    throw error;
  }
  const base = pipeline.url;
  const ws = base.replace(/^http/, 'ws');
  console.log(
    [
      `Telemetry pipeline running at ${base}`,
      `  login (guest):   GET  ${base}login-as-guest`,
      `  one event:       POST ${base}put-record`,
      `  a batch:         POST ${base}put-records`,
      `  WebSocket:       ${ws}?auth_token=<JWT>`,
      `  health:          GET  ${base}health`,
      `  browser demo:    ${base}demo/`,
      `  data directory:  ${config.dataDir}`,
      'Press Ctrl+C to stop.',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: string) => {
    // The first signal drains; a second one forces the exit.
    if (stopping) process.exit(130);
    stopping = true;
    console.log(`${signal}: finishing in-flight requests…`);
    pipeline
      .close()
      .then(() => {
        console.log('Stopped cleanly.');
        process.exit(0);
      })
      .catch((error) => {
        console.error('Shutdown failed:', error);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
