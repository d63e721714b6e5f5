/**
 * The embedded PostgreSQL: PGlite on disk under `data/pglite/`, served on a loopback port by
 * pglite-socket so the rest of shopsim reaches it through the same slonik code path as a real
 * server. While it runs, `<dataDir>/.shopsim-port` says which process holds it and on which
 * port, so `shopsim db url` and `shopsim report` can find it (PGlite cannot be opened by two
 * processes at once).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { ShopsimError } from '../errors.ts';

export const PORT_FILE = '.shopsim-port';
export const DEFAULT_DATA_DIR = 'data/pglite';
/**
 * Connections the socket server accepts: shopsim's own pool uses exactly one; the others
 * let a user's psql or `shopsim report` look in while a run holds the database.
 */
const MAX_CONNECTIONS = 4;

export interface EmbeddedServer {
  dataDir: string;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export interface PortFile {
  pid: number;
  port: number;
  host: string;
  startedAt: string;
}

export function embeddedUrl(port: number): string {
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running embedded server holding `dataDir`, if a live process holds it. */
export async function findRunningEmbedded(dataDir: string): Promise<PortFile | null> {
  let text: string;
  try {
    text = await readFile(join(resolve(dataDir), PORT_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const info = JSON.parse(text) as PortFile;
    if (typeof info.pid !== 'number' || typeof info.port !== 'number') return null;
    return isAlive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

/**
 * Opens (creating if needed) the PGlite data directory and serves it on 127.0.0.1, ephemeral port.
 * @throws ShopsimError E_DATABASE when another live process holds the directory, or PGlite fails.
 */
export async function startEmbedded(dataDirInput: string): Promise<EmbeddedServer> {
  const dataDir = resolve(dataDirInput);
  const holder = await findRunningEmbedded(dataDir);
  if (holder && holder.pid !== process.pid) {
    throw new ShopsimError(
      'E_DATABASE',
      `The embedded database ${dataDir} is in use by process ${holder.pid} (127.0.0.1:${holder.port}); wait for it to end, or use --data-dir or DATABASE_URL`,
      { exitCode: 2 },
    );
  }
  await mkdir(dataDir, { recursive: true });
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir);
  } catch (err) {
    throw new ShopsimError('E_DATABASE', `Cannot open the embedded database in ${dataDir}: ${err instanceof Error ? err.message : String(err)}`, { cause: err, exitCode: 2 });
  }
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: MAX_CONNECTIONS });
  try {
    await server.start();
  } catch (err) {
    await db.close().catch(() => {});
    throw new ShopsimError('E_DATABASE', `Cannot serve the embedded database on 127.0.0.1: ${err instanceof Error ? err.message : String(err)}`, { cause: err, exitCode: 2 });
  }
  const port = Number(server.getServerConn().split(':').pop());
  const portFile = join(dataDir, PORT_FILE);
  const info: PortFile = { pid: process.pid, port, host: '127.0.0.1', startedAt: new Date().toISOString() };
  await writeFile(portFile, JSON.stringify(info) + '\n');
  let stopped: Promise<void> | null = null;
  return {
    dataDir,
    port,
    url: embeddedUrl(port),
    stop() {
      stopped ??= (async () => {
        await server.stop().catch(() => {});
        await db.close().catch(() => {});
        await rm(portFile, { force: true });
      })();
      return stopped;
    },
  };
}
