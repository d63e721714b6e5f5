/**
 * What a distributed run's cohort jobs reach outside the worker (docs/scaling.md, "Store,
 * database and rate limit on the workers"): the store and where sessions are written. The
 * coordinator puts the edges in every job's input (a few hundred bytes), so a worker needs no
 * store or database options of its own, a resumed run's new bundled-store port reaches workers
 * still attached, and the per-thread rate is re-split at every barrier.
 *
 *  - store `mock`: the worker's deterministic mock store (./cohort-processor.ts); `http`: the
 *    store at `baseUrl` (the bundled store the coordinator started, or --api-url), through one
 *    client per worker thread paced at `rateLimit` (the run's --rate-limit split over the threads).
 *  - db `mock`: nowhere (--mock-db); `relay`: each session is POSTed to the coordinator's commit
 *    relay (below), which writes it through the run's recorder and answers when it is written
 *    (the embedded PGlite takes one connection: its writes stay the coordinator's).
 *
 * The relay listens on 127.0.0.1 (like the bundled store: workers on the coordinator's machine)
 * and asks a random token the job input carries; the token and URLs are never printed.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import type { Recorder, SessionRecord } from '../model/types.ts';
import { createMockRecorder } from '../simulation/mock-recorder.ts';

export type StoreEdge =
  | { kind: 'mock' }
  | { kind: 'http'; baseUrl: string; connections: number; requestTimeoutMs: number; rateLimit: number; burst: number | null };

export type RelayEdge = { kind: 'relay'; url: string; token: string };

/**
 * PostgreSQL: a worker given the run's database (its own --database-url / DATABASE_URL: the URL
 * never travels) writes its cohorts' sessions there through a pool of `poolSize` per thread; one
 * without, or whose database is another (its identity differs), writes through `relay`.
 */
export type DirectEdge = { kind: 'direct'; databaseId: string; poolSize: number; writeTimeoutMs: number; groupCommit: number; relay: RelayEdge };

export type DbEdge = { kind: 'mock' } | RelayEdge | DirectEdge;

export interface JobEdges {
  store: StoreEdge;
  db: DbEdge;
  /** Record the store's answers and return them with the job's result (the coordinator writes the answers file). */
  recordAnswers: boolean;
}

export const MOCK_EDGES: JobEdges = { store: { kind: 'mock' }, db: { kind: 'mock' }, recordAnswers: false };

export interface CommitRelay {
  readonly edge: RelayEdge;
  /** Sessions written through the relay (each POST answered 204). */
  written(): number;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error(`body over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The coordinator's commit relay: POST /commit { SessionRecord } → 204 once written, 500 { error } when the write failed. */
export async function startCommitRelay(recorder: Recorder): Promise<CommitRelay> {
  const token = randomBytes(18).toString('base64url');
  let written = 0;
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/commit') {
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401).end();
      return;
    }
    readBody(req, 8 * 1024 * 1024)
      .then((text) => recorder.commitSession(JSON.parse(text) as SessionRecord))
      .then(
        () => {
          written++;
          res.writeHead(204).end();
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
        },
      );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    edge: { kind: 'relay', url: `http://127.0.0.1:${port}`, token },
    written: () => written,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A worker's recorder writing through the coordinator's relay: a session's commit resolves when the coordinator wrote it. */
export function relayRecorder(edge: RelayEdge): Recorder & { closeRelay(): Promise<void> } {
  const pool = new Pool(edge.url, { connections: 4, keepAliveTimeout: 30_000 });
  return {
    ...createMockRecorder(),
    async commitSession(record) {
      const res = await pool.request({ method: 'POST', path: '/commit', headers: { authorization: `Bearer ${edge.token}`, 'content-type': 'application/json' }, body: JSON.stringify(record) });
      const text = await res.body.text();
      if (res.statusCode === 204) return;
      let message = `the coordinator's commit relay answered ${res.statusCode}`;
      try {
        const e = (JSON.parse(text) as { error?: unknown }).error;
        if (typeof e === 'string') message = e;
      } catch {
        // not JSON: the status says it
      }
      throw new Error(message);
    },
    closeRelay: () => pool.close(),
  };
}
