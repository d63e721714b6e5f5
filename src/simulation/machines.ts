/**
 * The composition of the pure machines with real or mock edges: every store call and the
 * write become actors here, by the names the machines declare in `setup`.
 */
import { fromPromise } from 'xstate';
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

export function provideShopper(deps: MachineDeps) {
  const { store, recorder, log } = deps;
  return shopperMachine.provide({
    actors: {
      browseProducts: fromPromise(({ input }: { input: BrowseInput }) => browseStep(store, input)),
      addToCart: fromPromise(({ input }: { input: CartInput }) => addToCartStep(store, input)),
      fetchOffers: fromPromise(({ input }: { input: StepBase }) => offersStep(store, input)),
      applyCoupon: fromPromise(({ input }: { input: StepBase & { code: string } }) => couponStep(store, input)),
      submitCheckout: fromPromise(({ input }: { input: StepBase & { idempotencyKey: string } }) => checkoutStep(store, input)),
      clearCart: fromPromise(({ input }: { input: StepBase }) => clearCartStep(store, input)),
      commitSession: fromPromise(async ({ input }: { input: SessionRecord }) => {
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
