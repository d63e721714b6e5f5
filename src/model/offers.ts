/**
 * Offer assignment, shared by the mock store and the reference store so both give an agent
 * the same offers for the same seed: 0–3 offers per agent per offer cycle, 5–30% off, with a
 * minimum spend of 0–50 currency units, valid for the offer cycle's window.
 */
import { hash32 } from './rng.ts';
import type { Offer } from './types.ts';

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
