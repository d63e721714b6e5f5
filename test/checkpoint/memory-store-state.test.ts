/**
 * A `--mock-db` checkpoint's store state (`store_state` with its `memory` part), through the
 * application layer as `shopsim run --resume-from FILE` loads it: resumed unchanged, the run is the
 * uninterrupted one (same digest and totals); any value of `store_state` replaced by one of the
 * wrong type, or by a number out of range, is refused before anything runs — E_CHECKPOINT, exit 2,
 * one line naming the file and the field.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointFileName } from '../../src/checkpoint/format.ts';
import { withChecksum } from '../../src/checkpoint/save.ts';
import { resolveConfig } from '../../src/config.ts';
import { isShopsimError } from '../../src/errors.ts';
import { prepareRun } from '../../src/run/start-run.ts';
import { runFlags } from '../run/run-flags.ts';

const root = mkdtempSync(join(tmpdir(), 'shopsim-ck-memory-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// The bundled store over HTTP, in memory; enough cycles for abandoned carts and orders before cycle 16.
const base = { agents: '40', cycles: '20', fast: true, mockDb: true, seed: '11', rateLimit: '0', checkpointInterval: '16', breakerPercent: '100' };

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

function leaves(v: Json, at: Path, out: Path[] = []): Path[] {
  if (Array.isArray(v)) v.forEach((x, i) => leaves(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) leaves(v[k] as Json, [...at, k], out);
  else out.push(at);
  return out;
}

function set(doc: Json, p: Path, value: Json): void {
  let cur = doc as Record<string, Json>;
  for (const k of p.slice(0, -1)) cur = cur[k as string] as Record<string, Json>;
  cur[p[p.length - 1] as string] = value;
}

const get = (doc: Json, p: Path): Json => p.reduce<Json>((cur, k) => (cur as Record<string, Json>)[k as string] as Json, doc);

describe('a --mock-db checkpoint\'s store state at load', () => {
  let text = '';
  let digest = '';

  it('setup: resumed unchanged from its cycle-16 checkpoint, the run is the uninterrupted one', async () => {
    const d = join(root, 'ref');
    const first = await runFlags({ ...base, checkpointDir: d });
    digest = first.digest;
    text = readFileSync(join(d, checkpointFileName(first.run_id, 16, false)), 'utf8');
    const doc = JSON.parse(text) as { store_state: { carts: unknown[]; memory: { orders: unknown[] } } };
    expect(doc.store_state.memory.orders.length).toBeGreaterThan(0);
    expect(doc.store_state.carts.length).toBeGreaterThan(0);
    mkdirSync(join(root, 'copy'));
    const copy = join(root, 'copy', 'checkpoint.json');
    writeFileSync(copy, text);
    // With its recorded store answers (the bundled store is a real store over HTTP), as beside the checkpoint.
    for (const f of readdirSync(d)) if (f.startsWith('answers_')) copyFileSync(join(d, f), join(root, 'copy', f));
    const again = await runFlags({ fast: true, resumeFrom: copy, checkpointDir: join(root, 'again') });
    expect(again.digest).toBe(digest);
    for (const k of ['sessions_created', 'checkouts_completed', 'sessions_abandoned', 'events_created', 'revenue_cents'] as const) expect(again[k], k).toBe(first[k]);
  }, 120_000);

  it('every value of store_state of the wrong type or out of range: refused, one line naming the file and the store_state field', () => {
    const doc0 = JSON.parse(text) as Json;
    // Every leaf of the carts and the memory part; the first entries of the stock (240 alike).
    const paths = leaves(get(doc0, ['store_state']), ['store_state']).filter((p) => p[1] !== 'stock' || (p[2] as number) < 5);
    expect(paths.length).toBeGreaterThan(40);
    const bad: string[] = [];
    let n = 0;
    for (const p of paths) {
      const v = get(doc0, p);
      // null (an order's or a cart's coupon): not another code, which a real checkpoint could hold.
      const replacements: Json[] = typeof v === 'number' ? ['7', null, 1.5, -1, 2 ** 53, 1e300] : typeof v === 'string' ? [0, null, [], ''] : [0, []];
      for (const r of replacements) {
        const doc = JSON.parse(text) as Record<string, Json>;
        delete doc['checksum'];
        set(doc, p, r);
        const dir = join(root, `case-${n++}`);
        mkdirSync(dir);
        const file = join(dir, 'checkpoint.json');
        writeFileSync(file, withChecksum(JSON.stringify(doc)));
        try {
          prepareRun(resolveConfig({ fast: true, resumeFrom: file, checkpointDir: join(dir, 'out') }, {}));
          bad.push(`${p.join('.')} = ${JSON.stringify(r)}: accepted`);
        } catch (err) {
          const message = (err as Error).message;
          if (!(isShopsimError(err) && err.exitCode === 2 && message.startsWith(`checkpoint ${file}: store_state.`) && !message.includes('\n'))) bad.push(`${p.join('.')} = ${JSON.stringify(r)}: ${message}`);
        }
        rmSync(dir, { recursive: true, force: true });
      }
    }
    expect(bad).toEqual([]);
    expect(n).toBeGreaterThan(200);
  }, 120_000);
});
