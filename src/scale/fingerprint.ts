/**
 * The data fingerprint of the join handshake: a worker runs cohorts of the coordinator's run only
 * if it reads the same persona and product files. sha256 over the two hashes the checkpoints
 * already pin (personas_hash, products_hash), over the whole files as read.
 */
import { createHash } from 'node:crypto';
import { personasHash, productsHash } from '../checkpoint/format.ts';
import type { Persona, Product } from '../model/types.ts';

export function dataFingerprint(personas: Persona[], products: Product[]): string {
  return `sha256:${createHash('sha256').update(`${personasHash(personas)}\n${productsHash(products)}`).digest('hex')}`;
}
