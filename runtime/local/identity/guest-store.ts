import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from './atomic-file.ts';

export interface GuestCredentials {
  readonly userId: string;
  readonly guestSecret: string;
}

/** Guest accounts: a user id and the hash of its secret. One process owns the file at a time. */
export interface GuestStore {
  /** Creates a guest and resolves once it is on disk, so credentials handed out survive a crash. */
  create(): Promise<GuestCredentials>;
  /** True when the guest exists and the secret matches. */
  verify(userId: string, guestSecret: string): boolean;
  /** Waits for pending writes. */
  close(): Promise<void>;
}

interface GuestRecord {
  readonly secretSha256: string;
  readonly createdAt: string;
}

interface GuestFile {
  version: 1;
  guests: Record<string, { secret_sha256: string; created_at: string }>;
}

// The secret is 256 random bits, so a plain SHA-256 cannot be brute-forced; a slow password hash would only
// slow logins down. What the hash buys is that a leaked guests.json cannot be replayed as credentials.
function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

// Compared against when the user is unknown, so a miss takes as long as a wrong secret.
const NO_GUEST_HASH = hashSecret(randomBytes(32).toString('base64url'));

export async function openGuestStore(file: string): Promise<GuestStore> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const guests = await readGuests(file);
  let writing: Promise<void> = Promise.resolve();

  function persist(): Promise<void> {
    // Writes are chained so they never overlap; each one snapshots the map when it runs, so it carries every
    // guest created before it.
    const write = writing.then(() => writeFileAtomic(file, serialize(guests)));
    writing = write.catch(() => {});
    return write;
  }

  return {
    async create() {
      let userId = randomUUID();
      while (guests.has(userId)) userId = randomUUID();
      const guestSecret = randomBytes(32).toString('base64url');
      guests.set(userId, {
        secretSha256: hashSecret(guestSecret).toString('base64url'),
        createdAt: new Date().toISOString(),
      });
      try {
        await persist();
      } catch (error) {
        guests.delete(userId);
        throw error;
      }
      return { userId, guestSecret };
    },

    verify(userId, guestSecret) {
      const record = guests.get(userId);
      const expected = record ? Buffer.from(record.secretSha256, 'base64url') : NO_GUEST_HASH;
      const matches = expected.length === 32 && timingSafeEqual(hashSecret(guestSecret), expected);
      return record !== undefined && matches;
    },

    close() {
      return writing;
    },
  };
}

function serialize(guests: Map<string, GuestRecord>): string {
  const file: GuestFile = { version: 1, guests: {} };
  for (const [userId, record] of guests) {
    file.guests[userId] = { secret_sha256: record.secretSha256, created_at: record.createdAt };
  }
  return `${JSON.stringify(file)}\n`;
}

async function readGuests(file: string): Promise<Map<string, GuestRecord>> {
  const guests = new Map<string, GuestRecord>();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return guests;
    throw error;
  }
  let parsed: Partial<GuestFile>;
  try {
    parsed = JSON.parse(text) as Partial<GuestFile>;
  } catch {
    throw new Error(`${file} is not valid JSON; fix or delete it (deleting it forgets every guest)`);
  }
  if (parsed.version !== 1 || typeof parsed.guests !== 'object' || parsed.guests === null) {
    throw new Error(`${file} is not a version 1 guest file; fix or delete it (deleting it forgets every guest)`);
  }
  for (const [userId, record] of Object.entries(parsed.guests)) {
    if (typeof record?.secret_sha256 !== 'string') continue;
    guests.set(userId, { secretSha256: record.secret_sha256, createdAt: String(record.created_at ?? '') });
  }
  return guests;
}
