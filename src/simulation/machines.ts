/**
 * The composition of the pure machines with real or mock edges: every store call and the
 * write are provided here, by the names the machines declare in `setup` (shopper effects as
 * actions, the orchestrator's offer-cycle and settle steps as promise actors).
 */
import { fromPromise, type AnyActorRef } from 'xstate';
import { cohortMachine } from '../../machines/cohort.machine.ts';
import { orchestratorMachine } from '../../machines/orchestrator.machine.ts';
import { shopperMachine } from '../../machines/shopper.machine.ts';
import type { CycleTotals, Recorder, SessionRecord, StoreApi } from '../model/types.ts';
import { addToCartStep, browseStep, checkoutStep, clearCartStep, couponStep, offersStep, type BrowseInput, type CartInput, type StepBase } from '../store/steps.ts';
import type { EventLog } from './event-log.ts';

export interface MachineDeps {
  store: StoreApi;
  recorder: Recorder;
  log: EventLog;
  agentIds: string[];
  /** Called when a cycle is sealed (after the digest is extended). */
  onSeal?: (cycle: number, totals: CycleTotals) => void;
}

/**
 * Starts one call and reports its outcome to the shopper as STEP_DONE / STEP_FAILED. A plain
 * action rather than an invoked promise actor: each invoke creates, registers and stops a
 * child actor, which measured as most of the engine's overhead per store call (docs/architecture.md).
 */
function effect<I>(run: (input: I) => Promise<unknown>) {
  return ({ self }: { self: AnyActorRef }, input: I): void => {
    run(input).then(
      (output) => self.send({ type: 'STEP_DONE', output }),
      (error: unknown) => self.send({ type: 'STEP_FAILED', error }),
    );
  };
}

export function provideShopper(deps: MachineDeps) {
  const { store, recorder, log } = deps;
  return shopperMachine.provide({
    actions: {
      browseProducts: effect((input: BrowseInput) => browseStep(store, input)),
      addToCart: effect((input: CartInput) => addToCartStep(store, input)),
      fetchOffers: effect((input: StepBase) => offersStep(store, input)),
      applyCoupon: effect((input: StepBase & { code: string }) => couponStep(store, input)),
      submitCheckout: effect((input: StepBase & { idempotencyKey: string }) => checkoutStep(store, input)),
      clearCart: effect((input: StepBase) => clearCartStep(store, input)),
      commitSession: effect(async (input: SessionRecord) => {
        await recorder.commitSession(input);
        log.add(input);
      }),
    },
  });
}

export function provideOrchestrator(deps: MachineDeps) {
  const shopper = provideShopper(deps);
  const cohort = cohortMachine.provide({ actors: { shopper } });
  return orchestratorMachine.provide({
    actors: {
      cohort,
      startOfferCycle: fromPromise(({ input }: { input: { offer_cycle: number; starts_at: string; ends_at: string } }) =>
        deps.store.startOfferCycle({ ...input, user_ids: deps.agentIds }),
      ),
      settleCycle: fromPromise(async ({ input }: { input: { cycle: number; previousDigest: string; totals: CycleTotals } }) => {
        const digest = deps.log.seal(input.cycle, input.previousDigest);
        deps.onSeal?.(input.cycle, input.totals);
        return { digest };
      }),
    },
  });
}

export type ProvidedOrchestrator = ReturnType<typeof provideOrchestrator>;
