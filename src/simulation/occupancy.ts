/**
 * How many shoppers are in each shopper state right now, summed over the cohorts: a read-only
 * walk of the actor tree (orchestrator → cohorts → shoppers), reading each shopper's snapshot
 * value. It sends nothing and changes nothing, so it cannot move a decision or a digest. Its cost
 * is one getSnapshot() per shopper (measured by test/bench/web.bench.ts); the web view calls it
 * at 1 Hz. It also keeps, per state, the first few shopper ids met there (for "who is here?").
 */
import type { AnyActorRef } from 'xstate';

export interface Occupancy {
  /** Shoppers per state value (top-level state of the shopper machine). */
  counts: Record<string, number>;
  /** Up to `sample` shopper ids per state, in run order. */
  samples: Record<string, string[]>;
  total: number;
  /** The orchestrator's state value (its parallel regions), when read from a running tree. */
  orchestrator?: unknown;
}

interface TreeContext {
  cohorts?: AnyActorRef[];
}
interface CohortContext {
  shoppers?: AnyActorRef[];
}

/** A snapshot value's top-level state name (a compound state's first key; '?' for anything else). */
export function stateName(value: unknown): string {
  return typeof value === 'string' ? value : value && typeof value === 'object' ? (Object.keys(value)[0] ?? '?') : '?';
}

/** Counts the shoppers of an orchestrator snapshot's cohorts by state. */
export function occupancyOf(orchestratorContext: unknown, sample = 5): Occupancy {
  const counts: Record<string, number> = {};
  const samples: Record<string, string[]> = {};
  let total = 0;
  const cohorts = (orchestratorContext as TreeContext | null)?.cohorts ?? [];
  for (const cohort of cohorts) {
    const shoppers = (cohort.getSnapshot().context as CohortContext | undefined)?.shoppers ?? [];
    for (const shopper of shoppers) {
      const state = stateName(shopper.getSnapshot().value);
      counts[state] = (counts[state] ?? 0) + 1;
      total++;
      const ids = samples[state] ?? (samples[state] = []);
      if (ids.length < sample) ids.push(shopper.id);
    }
  }
  return { counts, samples, total };
}

/** The context of one shopper (by actor id = persona id), or null: for following one shopper. */
export function shopperSnapshotOf(orchestratorContext: unknown, shopperId: string): { value: unknown; context: Record<string, unknown> } | null {
  const cohorts = (orchestratorContext as TreeContext | null)?.cohorts ?? [];
  for (const cohort of cohorts) {
    const shoppers = (cohort.getSnapshot().context as CohortContext | undefined)?.shoppers ?? [];
    for (const shopper of shoppers) {
      if (shopper.id === shopperId) {
        const snap = shopper.getSnapshot();
        return { value: snap.value, context: snap.context as Record<string, unknown> };
      }
    }
  }
  return null;
}
