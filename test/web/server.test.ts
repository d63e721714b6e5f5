import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { generateProducts } from '../../src/model/catalog.ts';
import { generatePersonas } from '../../src/model/personas.ts';
import { createSimulation, type Simulation, type SimulationConfig } from '../../src/simulation/create-simulation.ts';
import { createMockRecorder } from '../../src/simulation/mock-recorder.ts';
import { createMockStore } from '../../src/store/mock-store.ts';
import { startWebServer, type WebServer } from '../../src/web/server.ts';

const personas = generatePersonas(120, 7);
const products = generateProducts(60, 7);
const CONFIG: SimulationConfig = {
  runId: 'run-web-test',
  seed: 7,
  cycles: 100_000,
  startMs: Date.parse('2024-01-01T00:00:00Z'),
  timeScale: 3600 * 20, // a cycle every 50 ms
  fast: false,
  warmupCycles: 0,
  breakerPercent: 50,
  breakerAction: 'wait',
  cohortSize: 50,
  offerCycleDays: 7,
  checkpointInterval: 0,
};

/** A raw request, so Host and Origin can be anything. */
function send(port: number, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...opts.headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let web: WebServer | null = null;
let sim: Simulation | null = null;
let running: Promise<unknown> | null = null;

afterEach(async () => {
  sim?.stop();
  await running;
  await web?.close();
  web = null;
  sim = null;
  running = null;
});

async function start(): Promise<{ web: WebServer; sim: Simulation; auth: Record<string, string> }> {
  web = await startWebServer({ port: 0, runId: CONFIG.runId, periodMs: 100 });
  sim = createSimulation(CONFIG, { personas, products, store: createMockStore({ seed: 7, products, agentIds: personas.map((p) => p.id) }), recorder: createMockRecorder() });
  web.attach(sim);
  running = sim.run();
  return { web, sim, auth: { authorization: `Bearer ${web.token}` } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the web control API', () => {
  it('refuses every API route and /metrics without the token (401) or with a wrong one, and serves the page without it', async () => {
    const { web } = await start();
    for (const [method, path] of [['GET', '/api/state'], ['GET', '/api/graph'], ['GET', '/api/events'], ['GET', '/metrics'], ['POST', '/api/pause'], ['POST', '/api/stop']] as const) {
      expect((await send(web.port, path, { method })).status, `${method} ${path}`).toBe(401);
      expect((await send(web.port, path, { method, headers: { authorization: `Bearer ${'x'.repeat(web.token.length)}` } })).status, `${method} ${path}`).toBe(401);
    }
    const page = await send(web.port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script src="/app.js"></script>');
    expect(page.body).not.toContain(web.token);
    // The run was not paused or stopped by the refused calls.
    expect(sim?.stats().status).toBe('running');
  });

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin with 403, even with the token', async () => {
    const { web, auth } = await start();
    expect((await send(web.port, '/api/state', { headers: { ...auth, host: `evil.example:${web.port}` } })).status).toBe(403);
    expect((await send(web.port, '/', { headers: { host: `evil.example:${web.port}` } })).status).toBe(403);
    expect((await send(web.port, '/api/pause', { method: 'POST', headers: { ...auth, origin: 'http://evil.example' } })).status).toBe(403);
    expect(sim?.stats().status).toBe('running');
    expect((await send(web.port, '/api/state', { headers: { ...auth, host: `localhost:${web.port}` } })).status).toBe(200);
  });

  it('pauses, resumes, checkpoints and stops the simulation with the token; the state sums the shoppers to the agents', async () => {
    const { web, auth } = await start();
    await sleep(300);
    const state = JSON.parse((await send(web.port, '/api/state', { headers: auth })).body);
    expect(state.runId).toBe(CONFIG.runId);
    const counts = state.occupancy.counts as Record<string, number>;
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(personas.length);
    expect(state.occupancy.total).toBe(personas.length);
    expect(state.orchestrator).toMatchObject({ control: 'running', breaker: 'closed' });

    const paused = await send(web.port, '/api/pause', { method: 'POST', headers: auth });
    expect(JSON.parse(paused.body)).toMatchObject({ ok: true, status: 'paused' });
    expect(sim?.stats().status).toBe('paused');
    const at = sim?.stats().cyclesCompleted as number;
    await sleep(300);
    expect(sim?.stats().cyclesCompleted).toBeLessThanOrEqual(at + 1);
    expect(JSON.parse((await send(web.port, '/api/state', { headers: auth })).body).status).toBe('paused');
    expect(JSON.parse((await send(web.port, '/api/resume', { method: 'POST', headers: auth })).body).status).toBe('running');
    await sleep(300);
    expect(sim?.stats().cyclesCompleted).toBeGreaterThan(at + 1);
    // No checkpointer in this simulation: the answer says so (null), it does not invent a path.
    expect(JSON.parse((await send(web.port, '/api/checkpoint', { method: 'POST', headers: auth })).body)).toMatchObject({ ok: true, checkpoint: null });
    expect((await send(web.port, '/api/pause', { headers: auth })).status).toBe(405);
    expect(JSON.parse((await send(web.port, '/api/stop', { method: 'POST', headers: auth })).body).status).toMatch(/stopping|stopped/);
    const summary = (await running) as { exit_reason: string };
    expect(summary.exit_reason).toBe('stopped');
  });

  it('serves /metrics in the Prometheus text format, shopsim_-prefixed, with the run id on every series', async () => {
    const { web, auth } = await start();
    await sleep(300);
    const res = await send(web.port, '/metrics', { headers: auth });
    expect(res.status).toBe(200);
    const lines = res.body.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines.length).toBeGreaterThan(5);
    for (const l of lines) {
      expect(l).toMatch(/^shopsim_[a-z_]+\{/);
      expect(l).toContain(`run_id="${CONFIG.runId}"`);
    }
    const shoppers = lines.filter((l) => l.startsWith('shopsim_shoppers{')).map((l) => Number(l.split(' ').pop()));
    expect(shoppers.reduce((a, b) => a + b, 0)).toBe(personas.length);
    const cycles = Number(lines.find((l) => l.startsWith('shopsim_cycles_total'))?.split(' ').pop());
    expect(cycles).toBeGreaterThan(0);
    expect(res.body).toMatch(/# TYPE shopsim_sessions_total counter/);
  });

  it('streams the full state first to a late viewer, then ticks', async () => {
    const { web, auth } = await start();
    await sleep(350);
    const messages: { type: string; seconds?: unknown[]; point?: unknown }[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: web.port, path: '/api/events', headers: { ...auth, host: `127.0.0.1:${web.port}` } }, (res) => {
        let buf = '';
        res.on('data', (d: Buffer) => {
          buf += d.toString();
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            messages.push(JSON.parse(buf.slice(6, i)));
            buf = buf.slice(i + 2);
          }
          if (messages.length >= 3) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', (e) => (messages.length >= 3 ? resolve() : reject(e)));
      req.end();
    });
    expect(messages[0]?.type).toBe('full');
    expect((messages[0]?.seconds ?? []).length).toBeGreaterThanOrEqual(2);
    expect(messages[1]?.type).toBe('tick');
    expect(messages[1]?.point).toBeDefined();
  });
});

describe('a taken port', () => {
  it('is one ShopsimError naming --web and the port, exit code 2', async () => {
    const first = await startWebServer({ port: 0, runId: 'a' });
    try {
      await expect(startWebServer({ port: first.port, runId: 'b' })).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining(`--web ${first.port}: cannot listen`) });
    } finally {
      await first.close();
    }
  });
});
