/**
 * Offer assignment, the one place for it: the mock store draws an agent's offers with
 * offersForAgent (lazily, per agent), the reference store plans a whole cycle with planOffers;
 * both give an agent the same offers for the same seed. 0–3 offers per agent per offer cycle,
 * 5–30% off, with a minimum spend of 0–50 currency units, valid for the offer cycle's window.
 */
import { hash32 } from './rng.ts';
import type { Offer, OfferCycleRequest } from './types.ts';

const OFFER_SALT = 0x0ffe;

export interface OfferWindow {
  number: number;
  startsAt: string;
  endsAt: string;
}

/** How many offers agent `agentIndex` gets in offer cycle `cycle`. */
export function offerCount(seed: number, cycle: number, agentIndex: number): number {
  return hash32(seed, cycle, agentIndex, OFFER_SALT) % 4;
}

/** The offers of agent `agentIndex` (id `agentId`) in the given offer cycle. */
export function offersForAgent(seed: number, window: OfferWindow, agentIndex: number, agentId: string): Offer[] {
  const n = offerCount(seed, window.number, agentIndex);
  const offers: Offer[] = [];
  for (let k = 0; k < n; k++) {
    const h = hash32(seed, window.number, agentIndex, k, OFFER_SALT);
    const percent = 5 + (h % 6) * 5;
    offers.push({
      offer_id: `off_${window.number}_${agentIndex}_${k}`,
      code: `OC${window.number}-${agentId.toUpperCase()}-${k}`,
      description: `${percent}% off your order`,
      discount_percent: percent,
      min_spend_cents: ((h >>> 8) % 6) * 1000,
      offer_cycle: window.number,
      valid_from: window.startsAt,
      valid_until: window.endsAt,
    });
  }
  return offers;
}

/** An offer as the reference store stores it: with the user it was assigned to. */
export interface AssignedOffer extends Offer {
  user_id: string;
}

/** The offers of a whole cycle, by each user's position in `user_ids` (the mock store's agent index). */
export function planOffers(seed: number, req: OfferCycleRequest): AssignedOffer[] {
  const window = { number: req.offer_cycle, startsAt: req.starts_at, endsAt: req.ends_at };
  return req.user_ids.flatMap((userId, i) => offersForAgent(seed, window, i, userId).map((o) => ({ user_id: userId, ...o })));
}
