/**
 * A resume against a store shopsim does not own (`--api-url`): shopsim cannot reach the
 * store's tables, so what it can make true it makes true through the store API. Before the
 * first re-run cycle, the cart of every agent of the run is emptied with `DELETE /cart` (the
 * killed run's carts are not in the checkpoint). Orders the killed run placed in the cycles
 * that run again are not taken back — the contract has no call for it; the re-run's checkouts
 * send the same Idempotency-Key (run, agent, cycle), so a store that honours it returns those
 * orders instead of placing new ones (docs/checkpoints.md, "Resuming against your own store").
 */
import type { Persona, StoreApi } from '../model/types.ts';
import { StoreCallError } from '../store/store-error.ts';

export interface ClearedCarts {
  cleared: number;
  failed: number;
  /** The store has no DELETE /cart (404 / 405 on the first call): nothing was cleared. */
  unsupported: boolean;
  firstError: string | null;
}

/** Empties every agent's cart through the store, `concurrency` calls at a time. Never throws. */
export async function clearCartsThroughStore(store: StoreApi, personas: Persona[], cycle: number, at: string, concurrency: number): Promise<ClearedCarts> {
  const out: ClearedCarts = { cleared: 0, failed: 0, unsupported: false, firstError: null };
  const clear = async (i: number): Promise<void> => {
    const p = personas[i] as Persona;
    try {
      // callSeq 0: never one of the agent's own calls (they are numbered from 1).
      await store.clearCart({ agentId: p.id, agentIndex: i, cycle, at, callSeq: 0 });
      out.cleared++;
    } catch (err) {
      if (err instanceof StoreCallError && (err.status === 404 || err.status === 405 || err.status === 501)) out.unsupported = true;
      out.failed++;
      out.firstError ??= err instanceof Error ? err.message : String(err);
    }
  };
  if (personas.length === 0) return out;
  // The first call alone: a store without the call is found out once, not once per agent.
  await clear(0);
  if (out.unsupported) return out;
  let next = 1;
  const worker = async () => {
    while (next < personas.length) await clear(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, personas.length - 1)) }, worker));
  return out;
}

/** The notice a resume prints about it. */
export function clearedCartsLine(r: ClearedCarts, agents: number, cycle: number): string {
  if (r.unsupported) return `warning: the store has no DELETE /cart (${r.firstError ?? 'refused'}); the killed run's carts were not emptied before the cycles after ${cycle} run again`;
  if (r.failed > 0) return `warning: emptied ${r.cleared} of ${agents} agents' carts through the store before the cycles after ${cycle} run again; ${r.failed} failed (${r.firstError ?? ''})`;
  return `emptied the carts of ${r.cleared} agents through the store (DELETE /cart) before the cycles after ${cycle} run again`;
}
