/**
 * `run --web`: a local server on 127.0.0.1 serving the live page (plain files from
 * src/web/assets and uPlot from its package — no CDN), the control API and /metrics.
 *  - GET /                 the page (no secrets in it: the token arrives in the URL's #fragment,
 *                          which browsers never send to a server)
 *  - GET /api/state        the current state (token)
 *  - GET /api/graph        the statecharts (token)
 *  - GET /api/events       server-sent events at 1 Hz: first the full history, then ticks (token)
 *  - GET /api/shopper?id=  one shopper's state and context (token)
 *  - POST /api/pause|resume|checkpoint|stop (token)
 *  - GET /metrics          Prometheus text (token)
 * The token is sent as `Authorization: Bearer …`. Requests whose Host is not loopback get 403
 * (DNS rebinding), as do requests with a foreign Origin; without the token, 401.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { ShopsimError } from '../errors.ts';
import type { Simulation } from '../simulation/types.ts';
import type { Threshold } from '../thresholds/thresholds.ts';
import { runGraphs } from './machine-graph.ts';
import { createRunMetrics } from './metrics.ts';
import { createWebSampler, type WebSampler } from './web-state.ts';

export interface WebServerOptions {
  /** 0 picks a free port. */
  port: number;
  runId: string;
  /** Sampling period, ms (default 1000). */
  periodMs?: number;
  /** The control token (default: 32 random bytes, base64url). */
  token?: string;
}

export interface WebServer {
  port: number;
  /** http://127.0.0.1:PORT */
  origin: string;
  /** The page with the token in its fragment: what the user opens. */
  pageUrl: string;
  token: string;
  /** Starts sampling this simulation and accepting controls for it (`thresholds`: shown with their results). */
  attach(sim: Simulation, options?: { thresholds?: readonly Threshold[] }): void;
  close(): Promise<void>;
}

const ASSETS = join(import.meta.dirname, 'assets');
const UPLOT_DIST = join(dirname(createRequire(import.meta.url).resolve('uplot')), '.');

const FILES: Record<string, { path: string; type: string }> = {
  '/': { path: join(ASSETS, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { path: join(ASSETS, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/map.js': { path: join(ASSETS, 'map.js'), type: 'text/javascript; charset=utf-8' },
  '/app.css': { path: join(ASSETS, 'app.css'), type: 'text/css; charset=utf-8' },
  '/uplot.js': { path: join(UPLOT_DIST, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/uplot.css': { path: join(UPLOT_DIST, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** Content-Security-Policy: only this server, no inline scripts, no outside connections. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function loopbackHost(hostHeader: string | undefined, port: number): boolean {
  if (!hostHeader) return false;
  return [`127.0.0.1:${port}`, `localhost:${port}`].includes(hostHeader.toLowerCase());
}

function loopbackOrigin(origin: string | undefined, port: number): boolean {
  if (origin === undefined) return true;
  return [`http://127.0.0.1:${port}`, `http://localhost:${port}`].includes(origin.toLowerCase());
}

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const token = options.token ?? randomBytes(32).toString('base64url');
  const periodMs = options.periodMs ?? 1000;
  let sim: Simulation | null = null;
  let sampler: WebSampler | null = null;
  let timer: NodeJS.Timeout | null = null;
  const streams = new Set<{ res: http.ServerResponse; hoursSent: number }>();
  const graphs = runGraphs();
  const registry = createRunMetrics(() => sim, () => sampler, options.runId);
  const files = new Map<string, Buffer>();
  let port = options.port;

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const snapshotState = () =>
    sampler ? sampler.current() : { runId: options.runId, status: 'starting' as const, occupancy: null, cycle: 0, totalCycles: 0 };

  let lastTick = 0;
  const tick = () => {
    if (!sampler) return;
    lastTick = performance.now();
    const { state, point } = sampler.sample();
    for (const s of streams) {
      const hours = sampler.hoursSince(s.hoursSent);
      s.hoursSent += hours.length;
      s.res.write(`data: ${JSON.stringify({ type: 'tick', state, point, hours })}\n\n`);
    }
  };

  async function control(action: string, res: http.ServerResponse): Promise<void> {
    if (!sim) return json(res, 409, { error: 'the run has not started yet' });
    switch (action) {
      case 'pause':
        sim.pause();
        break;
      case 'resume':
        sim.resume();
        break;
      case 'stop':
        sim.stop();
        break;
      case 'checkpoint': {
        const path = await sim.checkpointNow();
        return json(res, 200, { ok: true, action, checkpoint: path });
      }
      default:
        return json(res, 404, { error: `unknown control ${action}` });
    }
    json(res, 200, { ok: true, action, status: sim.stats().status });
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      if (!loopbackHost(req.headers.host, port) || !loopbackOrigin(req.headers.origin, port)) {
        res.writeHead(403, { 'Content-Type': 'text/plain' });
        res.end('forbidden: open the page through 127.0.0.1 or localhost\n');
        return;
      }
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      const file = FILES[url.pathname];
      if (file && req.method === 'GET') {
        let body = files.get(url.pathname);
        if (!body) files.set(url.pathname, (body = readFileSync(file.path)));
        res.writeHead(200, { 'Content-Type': file.type, 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' });
        res.end(body);
        return;
      }
      const auth = req.headers.authorization ?? '';
      const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (!given || !sameToken(given, token)) {
        res.writeHead(401, { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Bearer realm="shopsim"' });
        res.end('unauthorized: send the token printed at start (and written to data/runs/<run>.json) as Authorization: Bearer <token>\n');
        return;
      }
      if (req.method === 'GET' && url.pathname === '/api/state') return json(res, 200, snapshotState());
      if (req.method === 'GET' && url.pathname === '/api/graph') return json(res, 200, graphs);
      if (req.method === 'GET' && url.pathname === '/api/shopper') {
        const id = url.searchParams.get('id') ?? '';
        const s = sim?.shopper(id) ?? null;
        if (!s) return json(res, 404, { error: `no shopper ${JSON.stringify(id.slice(0, 64))}` });
        const { persona: _persona, rng: _rng, ...context } = s.context;
        return json(res, 200, { id, state: s.value, context });
      }
      if (req.method === 'GET' && url.pathname === '/metrics') {
        res.writeHead(200, { 'Content-Type': registry.contentType });
        res.end(await registry.metrics());
        return;
      }
      if (req.method === 'GET' && url.pathname === '/api/events') {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
        const entry = { res, hoursSent: 0 };
        const hours = sampler?.hours() ?? [];
        entry.hoursSent = hours.length;
        res.write(`data: ${JSON.stringify({ type: 'full', state: snapshotState(), seconds: sampler?.seconds() ?? [], hours })}\n\n`);
        streams.add(entry);
        req.on('close', () => streams.delete(entry));
        return;
      }
      const m = /^\/api\/(pause|resume|checkpoint|stop)$/.exec(url.pathname);
      if (m) {
        if (req.method !== 'POST') return json(res, 405, { error: 'use POST' });
        return control(m[1] as string, res);
      }
      json(res, 404, { error: 'not found' });
    })().catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: err instanceof Error ? err.message.split('\n')[0] : 'error' });
      else res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new ShopsimError('E_INPUT', `--web ${options.port}: cannot listen on 127.0.0.1:${options.port} (${err.code ?? err.message}); choose another port (0 = any free port)`, { cause: err, exitCode: 2 }));
    });
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;

  return {
    port,
    origin,
    pageUrl: `${origin}/#token=${token}`,
    token,
    attach(s, attachOptions = {}) {
      sim = s;
      sampler = createWebSampler(s, { thresholds: attachOptions.thresholds ?? [] });
      sampler.sample();
      timer = setInterval(tick, periodMs);
      timer.unref();
      s.events.on('control', () => setImmediate(tick));
      // The state also follows the cycles (at most 5 samples a second): a busy process can run
      // several cycles before a timer fires, and a late first sample would still say "starting".
      s.events.on('started', () => setImmediate(tick));
      s.events.on('cycle', () => {
        if (performance.now() - lastTick > 200) setImmediate(tick);
      });
    },
    close() {
      if (timer) clearInterval(timer);
      sampler?.stop();
      for (const s of streams) s.res.end();
      streams.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
