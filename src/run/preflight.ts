/**
 * What a run checks before it writes anything (called by openRun, before any database is
 * migrated or any store is started):
 *  - a run against a user's store (--api-url) asks it one cheap question (GET /products, one
 *    product) within --request-timeout; no answer is one line naming the URL (redacted) and the
 *    error, exit 2;
 *  - a resume that writes to a database opens it without migrating and checks that it is the one
 *    the run was written to: the checkpoint's database identity (simulation_config.database_id)
 *    matches, the run's row is there, and the run had not completed there (unless extended).
 * Each failure is a ShopsimError with exit code 2 (E_INPUT for the store, E_CHECKPOINT for the
 * resume); nothing has been written.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { redactUrl } from '../config.ts';
import { openDatabase } from '../db/connection.ts';
import { findRunRow } from '../db/identity.ts';
import { oneLine, ShopsimError } from '../errors.ts';
import { StoreCallError } from '../store/store-error.ts';
import { createHttpStore } from '../store/http-store.ts';
import type { RunPlan } from './start-run.ts';

import { checkpointError } from '../checkpoint/load.ts';

/** A resume refused because of its checkpoint's run: one line naming the checkpoint file. */
const refuseFor = (file: string) => (message: string) => checkpointError(file, message);

export async function preflightRun(plan: RunPlan): Promise<void> {
  if (!plan.durable) return;
  const c = plan.config;
  if (!c.mockApi && c.apiUrl) await checkStoreAnswers(c.apiUrl, c.requestTimeout);
  if (plan.resume && !c.mockDb) await checkResumeDatabase(plan);
}

/** One GET /products (page size 1) within the request timeout. @throws E_PREFLIGHT */
export async function checkStoreAnswers(apiUrl: string, requestTimeoutSeconds: number): Promise<void> {
  const store = createHttpStore({ baseUrl: apiUrl, connections: 1, requestTimeoutMs: Math.max(1, Math.round(requestTimeoutSeconds * 1000)), rateLimit: 0, maxRetries429: 0 });
  try {
    await store.listProducts({ agentId: 'shopsim-preflight', agentIndex: -1, cycle: 0, at: new Date(0).toISOString(), callSeq: 1 }, { page: 1, pageSize: 1 });
  } catch (err) {
    // The store answered (an HTTP status, or a body of the wrong shape): it is reachable; what it
    // answers is each agent's business (a refusal or a BAD_RESPONSE failure of that agent).
    if (err instanceof StoreCallError && (err.status !== null || err.storeCode === 'BAD_RESPONSE')) return;
    throw new ShopsimError('E_INPUT', `the store at ${redactUrl(apiUrl)} does not answer (GET /products within ${requestTimeoutSeconds} s): ${oneLine(err).replace(apiUrl, redactUrl(apiUrl))}; nothing was written`, { exitCode: 2 });
  } finally {
    await store.close().catch(() => {});
  }
}

async function checkResumeDatabase(plan: RunPlan): Promise<void> {
  const c = plan.config;
  const ck = plan.resume?.checkpoint;
  if (!ck) return;
  const runId = ck.simulation_state.run_id;
  const refuse = refuseFor(plan.resume?.file ?? '(checkpoint)');
  if (!c.databaseUrl && !existsSync(join(resolve(c.dataDir), 'PG_VERSION'))) {
    throw refuse(`database mismatch: there is no embedded database in ${c.dataDir}, so run ${runId} was not written there; pass the --data-dir it was written to (nothing was created)`);
  }
  const db = await openDatabase({
    ...(c.databaseUrl ? { databaseUrl: c.databaseUrl } : {}),
    dataDir: c.dataDir,
    poolSize: 1,
    migrate: false,
    connectionTimeoutMs: c.dbConnectTimeout * 1000,
    statementTimeoutMs: c.dbStatementTimeout * 1000,
  });
  try {
    const where = db.describe();
    const recorded = ck.simulation_config['database_id'];
    if (typeof recorded === 'string' && db.databaseId !== recorded) {
      throw refuse(`database mismatch: run ${runId} was written to the database with identity ${recorded}; ${where} is ${db.databaseId ?? 'a database shopsim has not written to'}`);
    }
    const row = await findRunRow(db.pool, runId);
    if (!row) throw refuse(`database mismatch: ${where} has no row for run ${runId}, so it is not the database the run was written to`);
    if (row.ended && row.exitReason === 'completed' && row.cyclesCompleted !== null && plan.cycles <= row.cyclesCompleted) {
      throw refuse(`run ${runId} has completed all ${row.cyclesCompleted} cycles (recorded in ${where}); nothing to resume (pass --cycles N with N > ${row.cyclesCompleted} to extend it)`);
    }
  } finally {
    await db.close();
  }
}
