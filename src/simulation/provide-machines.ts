/**
 * The composition of the pure machines with real or mock edges: every store call and the
 * write are provided here, by the names the machines declare in `setup` (shopper effects as
 * actions, the orchestrator's offer-cycle and settle steps as promise actors).
 */
import { fromPromise } from 'xstate';
import { cohortMachine } from '../../machines/cohort.machine.ts';
import { orchestratorMachine } from '../../machines/orchestrator.machine.ts';
import { shopperMachine } from '../../machines/shopper.machine.ts';
import { EFFECT_DONE, type EffectDoneEvent, type EffectInput, type EffectOutput, type ShopperEffect, type StepFailedEvent } from '../../machines/shopper.types.ts';
import type { CycleTotals, Recorder, StoreApi } from '../model/types.ts';
import { inProcessExecutor, type CohortExecutor } from '../scale/executor.ts';
import type { EventLog } from './event-log.ts';
import { addToCartStep, browseStep, checkoutStep, clearCartStep, couponStep, offersStep } from './shopper-steps.ts';

export interface MachineDeps {
  store: StoreApi;
  recorder: Recorder;
  log: EventLog;
  agentIds: string[];
  /** How the cohorts are run (src/scale/executor.ts); in-process when absent. */
  executor?: CohortExecutor;
}

/**
 * Starts one call and answers the shopper with the effect's own done event (typed by
 * ShopperEffectMap, so `run` must return what the machine reads) or STEP_FAILED. A plain
 * action rather than an invoked promise actor: each invoke creates, registers and stops a
 * child actor, which measured as most of the engine's overhead per store call (docs/architecture.md).
 */
function effect<K extends ShopperEffect>(name: K, run: (input: EffectInput<K>) => Promise<EffectOutput<K>>) {
  const type = EFFECT_DONE[name];
  return ({ self }: { self: { send: (event: EffectDoneEvent<K> | StepFailedEvent) => void } }, input: EffectInput<K>): void => {
    // A step that throws synchronously (a broken adapter, a provided stub) is that agent's
    // failure like a rejected call: nothing thrown here may reach the machine's transition.
    let started: Promise<EffectOutput<K>>;
    try {
      started = run(input);
    } catch (error) {
      started = Promise.reject(error);
    }
    started.then(
      (output) => self.send({ type, output }),
      (error: unknown) => self.send({ type: 'STEP_FAILED', error }),
    );
  };
}

export function provideShopper(deps: MachineDeps) {
  const { store, recorder, log } = deps;
  return shopperMachine.provide({
    actions: {
      browseProducts: effect('browseProducts', (input) => browseStep(store, input)),
      addToCart: effect('addToCart', (input) => addToCartStep(store, input)),
      fetchOffers: effect('fetchOffers', (input) => offersStep(store, input)),
      applyCoupon: effect('applyCoupon', (input) => couponStep(store, input)),
      submitCheckout: effect('submitCheckout', (input) => checkoutStep(store, input)),
      clearCart: effect('clearCart', (input) => clearCartStep(store, input)),
      commitSession: effect('commitSession', async (input) => {
        await recorder.commitSession(input);
        log.add(input);
      }),
    },
  });
}

export function provideCohort(deps: MachineDeps) {
  return cohortMachine.provide({ actors: { shopper: provideShopper(deps) } });
}

export type ProvidedCohort = ReturnType<typeof provideCohort>;

export function provideOrchestrator(deps: MachineDeps) {
  const executor = deps.executor ?? inProcessExecutor;
  const cohort = executor.cohort(provideCohort(deps), { log: deps.log });
  return orchestratorMachine.provide({
    actors: {
      cohort,
      startOfferCycle: fromPromise(async ({ input }: { input: { offer_cycle: number; starts_at: string; ends_at: string } }) => {
        const request = { ...input, user_ids: deps.agentIds };
        const answer = await deps.store.startOfferCycle(request);
        // Cohorts held elsewhere see the new offer cycle before the cycle's RUN_CYCLE.
        executor.offerCycleStarted?.(request);
        return answer;
      }),
      settleCycle: fromPromise(async ({ input }: { input: { cycle: number; previousDigest: string; totals: CycleTotals } }) => ({
        digest: deps.log.seal(input.cycle, input.previousDigest),
      })),
    },
  });
}

export type ProvidedOrchestrator = ReturnType<typeof provideOrchestrator>;
