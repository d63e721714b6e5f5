/**
 * The embedded PostgreSQL: PGlite on disk under `data/pglite/`, served on a loopback port by
 * pglite-socket so the rest of shopsim reaches it through the same slonik code path as a real
 * server. PGlite cannot be opened by two processes at once, so one process holds a data
 * directory and the others connect to its socket server:
 *
 * `<dataDir>/.shopsim-port` is the lock. The holder creates it exclusively (O_EXCL) *before*
 * opening PGlite, with port 0 while it starts, then rewrites it with the port once it serves, and
 * removes it when it stops. Another process that finds a live holder waits for the port and
 * connects to it (`shopsim serve` in one terminal, `shopsim run` in another; `report`, `db url`);
 * a lock whose process is gone is taken over. Two processes starting at the same moment cannot
 * both open the directory: one creates the lock, the other waits for it.
 */
import { open, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
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
  /** Held by another process (`sharedWith` its pid): this one only connects; stop() leaves it alone. */
  sharedWith: number | null;
  stop(): Promise<void>;
}

export interface PortFile {
  pid: number;
  /** 0 while the holder is still opening the database. */
  port: number;
  host: string;
  startedAt: string;
}

/** How long a process waits for a starting holder to serve (creating a database takes ~15 s). */
const START_WAIT_MS = 120_000;

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

async function readPortFile(dataDir: string): Promise<PortFile | null | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(join(dataDir, PORT_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const info = JSON.parse(text) as PortFile;
    // Written by another process: checked, never trusted.
    if (!Number.isInteger(info.pid) || info.pid <= 0 || !Number.isInteger(info.port) || info.port < 0 || info.port > 65535) return 'unreadable';
    return info;
  } catch {
    // A holder writes the file in one call; half a file is a crash or a race of a moment.
    return 'unreadable';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The running embedded server holding `dataDir`, if a live process holds it; while that process
 * is still opening the database, waits (up to `waitMs`) for it to serve.
 */
export async function findRunningEmbedded(dataDirInput: string, waitMs = START_WAIT_MS): Promise<PortFile | null> {
  const dataDir = resolve(dataDirInput);
  const t0 = Date.now();
  for (;;) {
    const info = await readPortFile(dataDir);
    if (info === null) return null;
    if (info !== 'unreadable') {
      if (!isAlive(info.pid)) return null;
      if (info.port > 0) return info;
    }
    if (Date.now() - t0 > waitMs) return null;
    await sleep(100);
  }
}

/** Takes the lock: true when this process now holds it; false when a live process does. */
async function takeLock(dataDir: string): Promise<boolean> {
  const file = join(dataDir, PORT_FILE);
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const fh = await open(file, 'wx');
      const info: PortFile = { pid: process.pid, port: 0, host: '127.0.0.1', startedAt: new Date().toISOString() };
      await fh.writeFile(JSON.stringify(info) + '\n');
      await fh.close();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const info = await readPortFile(dataDir);
    if (info === null) continue; // removed meanwhile: try again
    if (info === 'unreadable') {
      await sleep(100);
      const again = await readPortFile(dataDir);
      if (again === 'unreadable') await rm(file, { force: true }); // still half a file: a crashed writer
      continue;
    }
    if (info.pid === process.pid) return true;
    if (isAlive(info.pid)) return false;
    await rm(file, { force: true }); // the holder is gone: take over
  }
  throw new ShopsimError('E_DATABASE', `Cannot take the lock ${file} of the embedded database`, { exitCode: 2 });
}

export interface StartEmbeddedOptions {
  /** When another live process holds the directory, connect to it (waiting while it starts) instead of failing. */
  attach?: boolean;
}

/**
 * Opens (creating if needed) the PGlite data directory and serves it on 127.0.0.1, ephemeral port;
 * or, with `attach`, connects to the process that already holds it.
 * @throws ShopsimError E_DATABASE when another live process holds the directory (without
 *   `attach`, or it never serves), or PGlite fails.
 */
export async function startEmbedded(dataDirInput: string, options: StartEmbeddedOptions = {}): Promise<EmbeddedServer> {
  const dataDir = resolve(dataDirInput);
  await mkdir(dataDir, { recursive: true });
  if (!(await takeLock(dataDir))) {
    const holder = await readPortFile(dataDir);
    const pid = holder && holder !== 'unreadable' ? holder.pid : 0;
    if (options.attach) {
      const running = await findRunningEmbedded(dataDir);
      if (running) return { dataDir, port: running.port, url: embeddedUrl(running.port), sharedWith: running.pid, stop: async () => {} };
    }
    throw new ShopsimError(
      'E_DATABASE',
      `The embedded database ${dataDir} is in use by process ${pid}${holder && holder !== 'unreadable' && holder.port ? ` (127.0.0.1:${holder.port})` : ''}; wait for it to end, or use --data-dir or DATABASE_URL`,
      { exitCode: 2 },
    );
  }
  const portFile = join(dataDir, PORT_FILE);
  const release = () => rm(portFile, { force: true }).catch(() => {});
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir);
  } catch (err) {
    await release();
    throw new ShopsimError('E_DATABASE', `Cannot open the embedded database in ${dataDir}: ${err instanceof Error ? err.message : String(err)}`, { cause: err, exitCode: 2 });
  }
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: MAX_CONNECTIONS });
  try {
    await server.start();
  } catch (err) {
    await db.close().catch(() => {});
    await release();
    throw new ShopsimError('E_DATABASE', `Cannot serve the embedded database on 127.0.0.1: ${err instanceof Error ? err.message : String(err)}`, { cause: err, exitCode: 2 });
  }
  const port = Number(server.getServerConn().split(':').pop());
  const info: PortFile = { pid: process.pid, port, host: '127.0.0.1', startedAt: new Date().toISOString() };
  await writeFile(portFile, JSON.stringify(info) + '\n');
  let stopped: Promise<void> | null = null;
  return {
    dataDir,
    port,
    url: embeddedUrl(port),
    sharedWith: null,
    stop() {
      stopped ??= (async () => {
        await server.stop().catch(() => {});
        await db.close().catch(() => {});
        await release();
      })();
      return stopped;
    },
  };
}
