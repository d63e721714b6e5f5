/**
 * What the bundled store's state costs a checkpoint of a run on a database (`store_state`:
 * every shopper's cart, every product's stock, the current offer cycle; docs/checkpoints.md):
 * the time to export it at a cycle boundary (one read transaction), its size in the checkpoint
 * (JSON bytes), and the time a resume takes to put it back (one write transaction) — on the
 * embedded PGlite, with 40 % of the shoppers holding a cart of two lines and 10 % a coupon (the
 * README run ends its 24 cycles with ~40 % of its 372 shoppers holding a cart).
 *
 *   BENCH=store-state npm run bench     env: BENCH_SIZES (372,10000), BENCH_REPS (5)
 *
 * One JSON line per size: medians of the reps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'slonik';
import { openDatabase } from '../../src/db/connection.ts';
import { exportStoreState, resetStore, restoreStoreState } from '../../src/db/store-repository.ts';
import { generateProducts } from '../../src/model/catalog.ts';

const sizes = (process.env['BENCH_SIZES'] ?? '372,10000').split(',').map(Number);
const reps = Number(process.env['BENCH_REPS'] ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
const r2 = (x: number) => Math.round(x * 100) / 100;

for (const agents of sizes) {
  const dir = mkdtempSync(join(tmpdir(), 'shopsim-bench-store-state-'));
  try {
    const db = await openDatabase({ dataDir: dir });
    try {
      const products = generateProducts(240, 42);
      await resetStore(db.pool, products);
      const users = Array.from({ length: agents }, (_, i) => `agent_${String(i).padStart(6, '0')}`);
      const holders = users.filter((_, i) => i % 5 < 2);
      const lines = holders.flatMap((u, i) => [0, 1].map((k) => [u, (products[(i * 7 + k * 13) % products.length] as { id: string }).id, 1 + ((i + k) % 3), 500 + ((i * 31 + k) % 4000)] as [string, string, number, number]));
      const coupons = users.filter((_, i) => i % 10 === 0).map((u) => [u, 'SAVE10', 10, 2000] as [string, string, number, number]);
      await db.pool.query(sql.unsafe`INSERT INTO carts (user_id) SELECT * FROM ${sql.unnest(holders.map((u) => [u]), ['text'])} ON CONFLICT DO NOTHING`);
      await db.pool.query(sql.unsafe`INSERT INTO carts (user_id) SELECT * FROM ${sql.unnest(coupons.map((c) => [c[0]]), ['text'])} ON CONFLICT DO NOTHING`);
      await db.pool.query(sql.unsafe`INSERT INTO cart_items (user_id, product_id, quantity, unit_price_cents) SELECT * FROM ${sql.unnest(lines, ['text', 'text', 'int4', 'int4'])}`);
      await db.pool.query(sql.unsafe`INSERT INTO cart_coupons (user_id, code, discount_percent, min_spend_cents) SELECT * FROM ${sql.unnest(coupons, ['text', 'text', 'int4', 'int4'])}`);
      const exportMs: number[] = [];
      const restoreMs: number[] = [];
      let bytes = 0;
      let carts = 0;
      for (let r = 0; r < reps; r++) {
        let t0 = performance.now();
        const state = await exportStoreState(db.pool, users);
        exportMs.push(performance.now() - t0);
        bytes = Buffer.byteLength(JSON.stringify(state));
        carts = state.carts.length;
        t0 = performance.now();
        await restoreStoreState(db.pool, users, state);
        restoreMs.push(performance.now() - t0);
      }
      process.stdout.write(
        `${JSON.stringify({ bench: 'store-state', database: 'embedded', agents, carts, cart_lines: lines.length, products: products.length, reps, export_ms_median: r2(median(exportMs)), restore_ms_median: r2(median(restoreMs)), json_bytes: bytes, bytes_per_cart: r2(bytes / Math.max(1, carts)) })}\n`,
      );
    } finally {
      await db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
