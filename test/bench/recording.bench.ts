/**
 * The cost of recording the store's answers (issue 11): `shopsim run --fast --rate-limit 0
 * --mock-db` against the bundled reference store over HTTP, with recording (the default) and with
 * --no-record-answers, each in a fresh process, alternating, BENCH_REPS times per size. One JSON
 * line per run, then one line per size: the median wall time and CPU time (user + system, of the
 * whole process: the simulation and the in-process store) of each, the overheads, the time the run
 * itself spent writing the answers (`recorded_answers.write_seconds`: encoding the lines, write,
 * fsync before each checkpoint and at the end) and bytes per recorded answer. On a shared machine
 * wall time swings with the load of other processes; CPU time much less, so both are printed.
 * Because the difference of two loaded runs can be smaller than their noise, the recording's own
 * work is also measured in process: the CPU time recording adds per call (a shopper's mix of calls
 * on a stub store, wrapped and sealed every 1,000 sessions as a cycle is, against the bare stub),
 * times the run's calls, as a share of the run's CPU time without recording (`estimated_pct`).
 * BENCH_SIZES=372,10000 (default), BENCH_CYCLES=24, BENCH_REPS=3.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import type { CallContext, Cart, StoreApi } from '../../src/model/types.ts';
import { createAnswersWriter } from '../../src/store/answers-writer.ts';
import { createRecordingStore } from '../../src/store/recording-store.ts';

const sizes = (process.env['BENCH_SIZES'] ?? '372,10000').split(',').map(Number);
const cycles = Number(process.env['BENCH_CYCLES'] ?? 24);
const reps = Number(process.env['BENCH_REPS'] ?? 3);
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const r3 = (n: number) => Math.round(n * 1000) / 1000;

/** Beyond the 372 bundled personas: a generated file (seed 1), written once per size. */
const inputs = mkdtempSync(join(tmpdir(), 'shopsim-bench-rec-in-'));
process.on('exit', () => rmSync(inputs, { recursive: true, force: true }));
function personasFor(agents: number): string[] {
  if (agents <= 372) return [];
  const file = join(inputs, `personas-${agents}.json`);
  writeFileSync(file, JSON.stringify(generatePersonas(agents, 1)));
  return ['--personas', file];
}

function run(agents: number, record: boolean, personaArgs: string[]): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'shopsim-bench-rec-'));
  try {
    const t0 = performance.now();
    // The child prints its own CPU time when it exits.
    const cpuHook = `data:text/javascript,process.on('exit',()=>process.stderr.write('\\nBENCH_CPU '+JSON.stringify(process.cpuUsage())+'\\n'))`;
    const child = spawnSync(
      process.execPath,
      ['--import', cpuHook, 'bin/shopsim.js', 'run', '--agents', String(agents), '--cycles', String(cycles), '--fast', '--rate-limit', '0', '--mock-db', '--json', '--checkpoint-dir', dir, ...personaArgs, ...(record ? [] : ['--no-record-answers'])],
      { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const processSeconds = (performance.now() - t0) / 1000;
    if (child.status !== 0) throw new Error(`run exited ${child.status}: ${child.stderr.slice(-2000)}`);
    const out = child.stdout;
    const cpuLine = /BENCH_CPU (\{.*\})/.exec(child.stderr)?.[1];
    const cpu = cpuLine ? (JSON.parse(cpuLine) as { user: number; system: number }) : null;
    const s = JSON.parse(out.trim().split('\n').pop() as string) as Record<string, unknown>;
    const rec = (s['recorded_answers'] ?? null) as { answers: number; bytes: number; bytes_per_answer: number; write_seconds: number } | null;
    return { agents, cycles, record, wall_s: s['wall_seconds'], process_s: r3(processSeconds), cpu_s: cpu ? r3((cpu.user + cpu.system) / 1e6) : null, requests: s['requests'], digest: s['digest'], answers: rec?.answers ?? 0, bytes: rec?.bytes ?? 0, bytes_per_answer: rec?.bytes_per_answer ?? null, write_s: rec?.write_seconds ?? 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU seconds per call that recording adds in process: encoding, buffering, and writing each cycle. */
async function wrapperSecondsPerCall(): Promise<number> {
  const products = generateProducts(240, 42).slice(0, 12);
  const cart: Cart = { user_id: 'a', items: [{ product_id: 'p', quantity: 1, unit_price_cents: 100 }], coupon_code: null, subtotal_cents: 100, discount_cents: 0, total_cents: 100 };
  const offers = [{ offer_id: 'o', code: 'OC1-X', description: '10% off', discount_percent: 10, min_spend_cents: 2000, offer_cycle: 1, valid_from: '', valid_until: '' }];
  const stub: StoreApi = {
    listProducts: async () => products,
    getProduct: async () => products[3]!,
    getCart: async () => cart,
    addToCart: async () => cart,
    removeFromCart: async () => cart,
    clearCart: async () => {},
    listOffers: async () => offers,
    applyCoupon: async () => cart,
    checkout: async () => ({ order_id: 'ord_0123456789abcdef', user_id: 'a', total_cents: 100, discount_cents: 0, items_count: 1, coupon_code: null }),
    startOfferCycle: async () => ({ offers_assigned: 1 }),
  };
  const dir = mkdtempSync(join(tmpdir(), 'shopsim-bench-wrap-'));
  const writer = createAnswersWriter({ dir, runId: 'bench', agents: 1000 });
  const wrapped = createRecordingStore(stub, writer);
  const session = async (store: StoreApi, agentIndex: number) => {
    const ctx = (n: number): CallContext => ({ agentId: `agent_${agentIndex}`, agentIndex, cycle: 1, at: '2024-01-01T10:00:00.000Z', callSeq: n });
    await store.listProducts(ctx(1), { category: 'home', page: 1, pageSize: 12 });
    await store.getProduct(ctx(2), 'prod_0004');
    await store.addToCart(ctx(3), 'prod_0004', 1);
    await store.addToCart(ctx(4), 'prod_0005', 2);
    await store.listOffers(ctx(5));
    await store.checkout(ctx(6), 'run:agent:1');
  };
  let cycle = 0;
  /** CPU seconds per call; the wrapped store's cycles are sealed (encoded and written) as a run does. */
  const time = async (store: StoreApi, seal: boolean) => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < 20_000; i++) {
      await session(store, i % 1000);
      if (seal && i % 1000 === 999) writer.sealCycle(++cycle);
    }
    const d = process.cpuUsage(t0);
    return (d.user + d.system) / 1e6 / (20_000 * 6);
  };
  try {
    await time(stub, false);
    await time(wrapped, true); // warm up both
    const samples: number[] = [];
    for (let r = 0; r < 5; r++) {
      const plain = await time(stub, false);
      const rec = await time(wrapped, true);
      samples.push(rec - plain);
    }
    return median(samples);
  } finally {
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const perCall = await wrapperSecondsPerCall();
emit({ bench: 'recording-per-call', us_per_call: r3(perCall * 1e6) });

for (const agents of sizes) {
  const personaArgs = personasFor(agents);
  const on: Record<string, unknown>[] = [];
  const off: Record<string, unknown>[] = [];
  for (let i = 0; i < reps; i++) {
    for (const record of i % 2 === 0 ? [true, false] : [false, true]) {
      const r = run(agents, record, personaArgs);
      emit({ bench: 'recording', ...r });
      (record ? on : off).push(r);
    }
  }
  const wallOn = median(on.map((r) => r['wall_s'] as number));
  const wallOff = median(off.map((r) => r['wall_s'] as number));
  const write = median(on.map((r) => r['write_s'] as number));
  const cpuOn = median(on.map((r) => r['cpu_s'] as number));
  const cpuOff = median(off.map((r) => r['cpu_s'] as number));
  const last = on[on.length - 1] as Record<string, unknown>;
  emit({
    bench: 'recording-cost',
    agents,
    cycles,
    reps,
    wall_s_recording: r3(wallOn),
    wall_s_without: r3(wallOff),
    overhead_pct: r3(((wallOn - wallOff) / wallOff) * 100),
    cpu_s_recording: r3(cpuOn),
    cpu_s_without: r3(cpuOff),
    cpu_overhead_pct: r3(((cpuOn - cpuOff) / cpuOff) * 100),
    write_s: r3(write),
    write_pct_of_wall: r3((write / wallOn) * 100),
    estimated_pct: r3((((last['answers'] as number) * perCall) / cpuOff) * 100),
    answers: last['answers'],
    bytes: last['bytes'],
    bytes_per_answer: last['bytes_per_answer'],
  });
}
