// The telemetry client library for Node.js: the `ws` package's WebSocket, and state persisted to a file.
import WebSocket from 'ws';
import { TelemetryClient, type TelemetryClientOptions, type WebSocketConstructor } from './client.ts';
import { FileStore } from './file-store.ts';

export * from './index.ts';
export { FileStore } from './file-store.ts';

export interface NodeClientOptions extends TelemetryClientOptions {
  /** Keep undelivered events and the guest's credentials in this file, so they survive a restart. */
  readonly stateFile?: string;
}

/** A client for Node: `ws` for the socket (no permessage-deflate: CPU matters more than bytes), a file store if asked. */
export function startNodeClient<M extends Record<string, unknown> = Record<string, unknown>>(options: NodeClientOptions): Promise<TelemetryClient<M>> {
  const { stateFile, ...rest } = options;
  return TelemetryClient.start<M>({
    WebSocket: NodeWebSocket,
    ...(stateFile === undefined ? {} : { store: new FileStore(stateFile) }),
    ...rest,
  });
}

const NodeWebSocket: WebSocketConstructor = class extends WebSocket {
  constructor(url: string) {
    super(url, { perMessageDeflate: false });
  }
} as unknown as WebSocketConstructor;
