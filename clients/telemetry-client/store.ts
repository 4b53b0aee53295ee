import type { OutboxSnapshot } from './outbox.ts';

/** A returning guest's credentials: logging in with them again is the same player. */
export interface GuestCredentials {
  readonly userId: string;
  readonly guestSecret: string;
}

/** What a client keeps between runs of the game. */
export interface ClientState {
  readonly guest?: GuestCredentials;
  readonly outbox?: OutboxSnapshot;
}

/**
 * Where a client keeps its state: the undelivered events and the guest it logged in as. The browser build keeps
 * it in memory (a closed tab loses what was not delivered); the Node build persists it to a file.
 */
export interface StateStore {
  load(): Promise<ClientState | undefined>;
  save(state: ClientState): Promise<void>;
}

/** Keeps the state for the life of the page or process only. */
export class MemoryStore implements StateStore {
  private state: ClientState | undefined;

  async load(): Promise<ClientState | undefined> {
    return this.state;
  }

  async save(state: ClientState): Promise<void> {
    this.state = state;
  }
}
