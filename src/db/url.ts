/**
 * Database URLs: what may be shown of them (host, port, database — never user or password)
 * and how they are normalised before slonik parses them.
 */
import { ShopsimError } from '../errors.ts';

export interface DatabaseUrlInfo {
  host: string;
  port: number;
  database: string;
  /** True when the URL asks for a transaction-mode pooler (`pgbouncer=true`, or port 6543 as Supabase's Supavisor). */
  pooler: boolean;
}

/** Parses a postgres:// URL. @throws ShopsimError E_DATABASE (the message never includes the URL itself). */
export function parseDatabaseUrl(url: string): DatabaseUrlInfo {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ShopsimError('E_DATABASE', 'Expected DATABASE_URL to be a postgres://user:password@host:port/database URL, got something that does not parse as a URL', { exitCode: 2 });
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new ShopsimError('E_DATABASE', `Expected DATABASE_URL to start with postgres:// or postgresql://, got ${u.protocol}//`, { exitCode: 2 });
  }
  const host = decodeURIComponent(u.hostname || u.searchParams.get('host') || 'localhost');
  const port = u.port ? Number(u.port) : 5432;
  const database = u.pathname && u.pathname !== '/' ? decodeURIComponent(u.pathname.slice(1)) : decodeURIComponent(u.username || 'postgres');
  const pooler = u.searchParams.get('pgbouncer') === 'true' || port === 6543;
  return { host, port, database, pooler };
}

/** `host:port/database` — the only part of a database URL shopsim ever prints. */
export function describeDatabaseUrl(url: string): string {
  const { host, port, database } = parseDatabaseUrl(url);
  return `${host}:${port}/${database}`;
}

/**
 * The URL as slonik will read it: drops parameters only poolers and other clients know
 * (`pgbouncer`, `connection_limit`…), maps libpq sslmodes slonik does not accept.
 */
export function normalizeDatabaseUrl(url: string): string {
  const u = new URL(url);
  const keep = new Set(['application_name', 'options', 'sslcert', 'sslkey', 'sslmode', 'sslrootcert', 'host']);
  for (const key of [...u.searchParams.keys()]) if (!keep.has(key)) u.searchParams.delete(key);
  const mode = u.searchParams.get('sslmode');
  if (mode === 'prefer' || mode === 'allow') u.searchParams.delete('sslmode');
  else if (mode === 'verify-ca' || mode === 'verify-full') u.searchParams.set('sslmode', 'require');
  if (u.protocol === 'postgresql:') return 'postgres:' + u.toString().slice('postgresql:'.length);
  return u.toString();
}

/** Removes every trace of the URL's password (raw and decoded) and of the URL itself from a message. */
export function scrubSecrets(message: string, url: string | undefined): string {
  if (!url) return message;
  let out = message.split(url).join('<database-url>');
  try {
    const u = new URL(url);
    for (const secret of [u.password, safeDecode(u.password)]) {
      if (secret && secret.length > 0) out = out.split(secret).join('***');
    }
  } catch {
    // not a URL: nothing more to scrub
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
