// The telemetry client library, browser build: no dependencies, no Node APIs. Node programs use `node.ts`.
export {
  type AckInfo,
  type ClientEvents,
  type ClientStats,
  DROPPED_EVENT_TYPE,
  type RefusedInfo,
  TelemetryClient,
  type TelemetryClientOptions,
  TelemetryError,
  type TrackOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from './client.ts';
export { GuestSession, IdentityClient, IdentityError } from './identity.ts';
export type { DropPolicy, OutboxSnapshot } from './outbox.ts';
export type { Rejection, TelemetryEvent } from './protocol.ts';
export { type ClientState, type GuestCredentials, MemoryStore, type StateStore } from './store.ts';
