/**
 * The reference store's order id, derived from the request, so the same run makes the same
 * ids (they are in the session events, hence in the digest): the user, their order number in
 * this store (1 for the first since the store's reset at run start) and the checkout's
 * simulated time. Used by both backends (src/server/memory-backend.ts, src/db/store-repository.ts).
 */
import { createHash } from 'node:crypto';

export function orderIdFor(userId: string, orderNumber: number, at: string): string {
  return `ord_${createHash('sha256').update(`${userId}\n${orderNumber}\n${at}`).digest('hex').slice(0, 24)}`;
}
