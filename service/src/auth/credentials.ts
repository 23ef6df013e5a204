import { createHash } from 'node:crypto';

export interface S3Credential {
  accessKeyId: string;
  secretAccessKey: string;
  userName?: string;
}

/** The user an access key belongs to: buckets, policies and grants name users, never keys. */
export interface Identity {
  userId: number;
  /** 64 hex digits, as AWS's canonical user ids: reported as Owner ID and named by policies. */
  canonicalId: string;
  /** Reported as DisplayName. */
  name: string;
}

/**
 * Looks up secrets and their users by access key id: CredentialStore (Postgres) in the gateway,
 * StaticCredentials where no database is involved.
 */
export interface CredentialProvider {
  secretFor(accessKeyId: string): string | undefined;
  identityOf(accessKeyId: string): Identity | undefined;
}

export class StaticCredentials implements CredentialProvider {
  private readonly byId: Map<string, S3Credential>;

  constructor(list: S3Credential[]) {
    this.byId = new Map(list.map((c) => [c.accessKeyId, c]));
  }

  secretFor(accessKeyId: string): string | undefined {
    return this.byId.get(accessKeyId)?.secretAccessKey;
  }

  identityOf(accessKeyId: string): Identity | undefined {
    const c = this.byId.get(accessKeyId);
    if (!c) return undefined;
    const canonicalId = createHash('sha256').update(c.accessKeyId).digest('hex');
    return { userId: 0, canonicalId, name: c.userName ?? c.accessKeyId };
  }
}

/** Parses the credentials secret: a JSON array of `{client_id, client_secret, user_name?}`. */
export function parseCredentialsJson(text: string): S3Credential[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error('is not valid JSON');
  }
  if (!Array.isArray(data) || data.length === 0) throw new Error('must be a non-empty JSON array');
  return data.map((entry, i) => {
    const e = entry as Record<string, unknown>;
    if (typeof e?.client_id !== 'string' || !/^[A-Za-z0-9._~+/=-]{3,128}$/.test(e.client_id)) {
      throw new Error(`entry ${i} needs a client_id of 3-128 URL-safe characters`);
    }
    if (typeof e.client_secret !== 'string' || e.client_secret.length < 8) {
      throw new Error(`entry ${i} needs a client_secret of at least 8 characters`);
    }
    return {
      accessKeyId: e.client_id,
      secretAccessKey: e.client_secret,
      userName: typeof e.user_name === 'string' ? e.user_name : undefined,
    };
  });
}

/** The compliance-archive preset's keys: one that may only add objects, one that may only read. */
export interface ArchiveKeys {
  ingest: S3Credential;
  reader: S3Credential;
}

/** Parses the archive credentials secret: `{"ingest": {client_id, client_secret}, "reader": {...}}`. */
export function parseArchiveKeys(text: string): ArchiveKeys {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error('is not valid JSON');
  }
  if (typeof data !== 'object' || data === null || !data.ingest || !data.reader)
    throw new Error('must be an object with an ingest and a reader credential');
  const [ingest, reader] = parseCredentialsJson(JSON.stringify([data.ingest, data.reader]));
  if (ingest!.accessKeyId === reader!.accessKeyId)
    throw new Error('ingest and reader must be different keys');
  return { ingest: ingest!, reader: reader! };
}
