/**
 * Which inspection events reach the Stately inspector. The orchestrator, the cohorts and
 * their own actors always do; a shopper (and the store calls it invokes) only when its id is
 * in the sample, so 100,000 agents do not flood the inspector. Events a sampled-out shopper
 * sends to its cohort (SHOPPER_DONE), and the cohort snapshots they cause, are dropped too.
 * Only the three event kinds the inspector shows are kept (@xstate.actor/event/snapshot), and
 * only for state machines: the orchestrator's per-cycle helpers (the promise actors invoked by
 * `cycle.settling` and `cycle.startingOffers`, a new one each cycle) are not streamed — their
 * results still reach the inspector as the orchestrator's `xstate.done.actor.…` events.
 */
import type { InspectionEvent } from 'xstate';

type RefLike = { id: string; _parent?: RefLike; logic?: { config?: { id?: string } } };

/** Whether the actor runs a state machine (not a promise / callback helper). */
export function isMachineActor(ref: unknown): boolean {
  return typeof (ref as RefLike | undefined)?.logic?.config === 'object';
}

/** The shopper this actor is, or belongs to (its store calls), else null. */
export function shopperIdOf(ref: unknown): string | null {
  let cur = ref as RefLike | undefined;
  for (let depth = 0; cur && depth < 8; depth++) {
    if (cur.logic?.config?.id === 'shopper') return cur.id;
    cur = cur._parent;
  }
  return null;
}

export interface InspectFilter {
  (event: InspectionEvent): boolean;
}

/** `sample` null = every shopper. */
export function createInspectFilter(sample: ReadonlySet<string> | null): InspectFilter {
  const dropped = new WeakSet<object>();
  return (event) => {
    if (event.type !== '@xstate.actor' && event.type !== '@xstate.event' && event.type !== '@xstate.snapshot') return false;
    if (!isMachineActor(event.actorRef)) return false;
    if (sample === null) return true;
    const target = shopperIdOf(event.actorRef);
    if (target !== null) return sample.has(target);
    if (event.type === '@xstate.event') {
      const source = shopperIdOf(event.sourceRef);
      if (source !== null && !sample.has(source)) {
        if (typeof event.event === 'object' && event.event !== null) dropped.add(event.event);
        return false;
      }
      return true;
    }
    if (event.type === '@xstate.snapshot' && typeof event.event === 'object' && event.event !== null && dropped.has(event.event)) return false;
    return true;
  };
}
