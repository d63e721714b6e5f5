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
import type { CallContext, Recorder, SessionRecord } from '../model/types.ts';
import type { Entry as AnswerEntry } from '../store/answer-format.ts';
import { answerKey } from './served-answers.ts';
import { createMockRecorder } from '../simulation/mock-recorder.ts';

export type StoreEdge =
  | { kind: 'mock' }
  | { kind: 'http'; baseUrl: string; connections: number; requestTimeoutMs: number; rateLimit: number; burst: number | null; callKeyPrefix?: string };

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
  /**
   * A real store: every answer is sent here (the relay's /answers) before the shopper reads it,
   * and a job is served the answers recorded for its (cycle, cohort) first (./served-answers.ts).
   */
  answerLog?: RelayEdge | null;
}

export const MOCK_EDGES: JobEdges = { store: { kind: 'mock' }, db: { kind: 'mock' }, recordAnswers: false };

export interface CommitRelay {
  readonly edge: RelayEdge;
  /** Sessions written through the relay (each POST answered 204). */
  written(): number;
  /** Store answers held for cohort jobs that may run again, and those served to a job run again. */
  answers(): { held: number; served: number };
  /** 429s a worker was answered and broadcast to the others (its Retry-After held by every worker). */
  holds(): number;
  /** Drops the answers of cycles up to this one (their barrier is passed: no job of them runs again). */
  forget(throughCycle: number): void;
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

/**
 * The coordinator's commit relay: POST /commit { SessionRecord } → 204 once written, 500 { error }
 * when the write failed (or there is no database: `recorder` null). POST /answers/CYCLE/COHORT
 * [ctx, entry] → 204 once held; GET /answers/CYCLE/COHORT → the answers held for that job, as
 * [[cycle:agentIndex:callSeq, entry], …] (./served-answers.ts).
 */
export async function startCommitRelay(recorder: Recorder | null): Promise<CommitRelay> {
  const token = randomBytes(18).toString('base64url');
  let written = 0;
  let served = 0;
  /** A 429's Retry-After from any worker: until then (wall clock) every worker holds its requests. */
  let holdUntil = 0;
  let holds = 0;
  const holdLeft = () => Math.max(0, holdUntil - Date.now());
  const held = new Map<string, { cycle: number; calls: Map<string, AnswerEntry> }>();
  const server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401).end();
      return;
    }
    const hold = /^\/hold\/(\d+)$/.exec(req.url ?? '');
    if (hold && req.method === 'POST') {
      holdUntil = Math.max(holdUntil, Date.now() + Number(hold[1]));
      holds++;
      res.writeHead(204).end();
      return;
    }
    const m = /^\/answers\/(\d+)\/(\d+)$/.exec(req.url ?? '');
    if (m) {
      const job = `${m[1]}/${m[2]}`;
      if (req.method === 'GET') {
        const calls = held.get(job)?.calls;
        served += calls?.size ?? 0;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(calls ? [...calls] : []));
        return;
      }
      readBody(req, 8 * 1024 * 1024).then(
        (text) => {
          const [ctx, entry] = JSON.parse(text) as [CallContext, AnswerEntry];
          let h = held.get(job);
          if (!h) held.set(job, (h = { cycle: Number(m[1]), calls: new Map() }));
          h.calls.set(answerKey(ctx), entry);
          // The answer carries the run's hold, if any: every worker learns a 429 at its next answer.
          const left = holdLeft();
          if (left > 0) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ hold_ms: left }));
          else res.writeHead(204).end();
        },
        () => res.writeHead(400).end(),
      );
      return;
    }
    if (req.method !== 'POST' || req.url !== '/commit') {
      res.writeHead(404).end();
      return;
    }
    readBody(req, 8 * 1024 * 1024)
      .then((text) => {
        if (!recorder) throw new Error('this run writes no sessions (--mock-db)');
        return recorder.commitSession(JSON.parse(text) as SessionRecord);
      })
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
    holds: () => holds,
    answers: () => ({ held: [...held.values()].reduce((n, h) => n + h.calls.size, 0), served }),
    forget(throughCycle) {
      for (const [k, h] of held) if (h.cycle <= throughCycle) held.delete(k);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A worker's recorder writing through the coordinator's relay: a session's commit resolves when the coordinator wrote it. */
export function relayRecorder(edge: RelayEdge) {
  const pool = new Pool(edge.url, { connections: 4, keepAliveTimeout: 30_000 });
  return {
    ...createMockRecorder(),
    async commitSession(record: SessionRecord): Promise<void> {
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
    /** Holds the answer for a job run again; resolves to the run's hold (ms left of a 429's Retry-After somewhere; 0: none). */
    async postAnswer(cycle: number, cohort: number, ctx: CallContext, entry: AnswerEntry): Promise<number> {
      const res = await pool.request({ method: 'POST', path: `/answers/${cycle}/${cohort}`, headers: { authorization: `Bearer ${edge.token}`, 'content-type': 'application/json' }, body: JSON.stringify([ctx, entry]) });
      if (res.statusCode !== 200) {
        await res.body.dump();
        return 0;
      }
      const hold = ((await res.body.json()) as { hold_ms?: unknown }).hold_ms;
      return typeof hold === 'number' ? hold : 0;
    },
    /** This worker was answered 429: every worker of the run holds for `ms`. */
    async broadcastHold(ms: number): Promise<void> {
      const res = await pool.request({ method: 'POST', path: `/hold/${Math.max(0, Math.round(ms))}`, headers: { authorization: `Bearer ${edge.token}` } });
      await res.body.dump();
    },
    /** The answers held for this job (empty on its first attempt). */
    async recordedAnswers(cycle: number, cohort: number): Promise<Map<string, AnswerEntry>> {
      const res = await pool.request({ method: 'GET', path: `/answers/${cycle}/${cohort}`, headers: { authorization: `Bearer ${edge.token}` } });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`the coordinator's relay answered ${res.statusCode} for the recorded answers`);
      }
      return new Map((await res.body.json()) as [string, AnswerEntry][]);
    },
    closeRelay: () => pool.close(),
  };
}
