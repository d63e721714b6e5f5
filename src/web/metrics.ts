/**
 * /metrics in the Prometheus text format (prom-client), `shopsim_`-prefixed, in base units, with
 * a `run_id` label on every series. The values are read from the web sampler's latest state and
 * the simulation's stats when Prometheus scrapes (collect callbacks): nothing is counted twice.
 * A registry of its own, not prom-client's global one.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { Simulation } from '../simulation/types.ts';
import type { WebSampler } from './web-state.ts';
import { workerTableOf, type WorkerRow } from '../monitor/worker-rows.ts';

export function createRunMetrics(getSim: () => Simulation | null, getSampler: () => WebSampler | null, runId: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ run_id: runId });
  const stats = () => getSim()?.stats() ?? null;
  const httpMetrics = () => (stats()?.metrics ?? {}) as Record<string, unknown>;

  new Counter({
    name: 'shopsim_http_requests_total',
    help: 'Store calls finished, by endpoint and outcome (HTTP store only; the mock store reports shopsim_store_calls_total)',
    labelNames: ['endpoint', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const eps = (httpMetrics()['endpoints'] ?? {}) as Record<string, { count?: number; errors?: number; rejected?: number }>;
      for (const [endpoint, e] of Object.entries(eps)) {
        const count = e.count ?? 0;
        const errors = e.errors ?? 0;
        const rejected = e.rejected ?? 0;
        this.inc({ endpoint, outcome: 'ok' }, Math.max(0, count - errors - rejected));
        if (errors) this.inc({ endpoint, outcome: 'error' }, errors);
        if (rejected) this.inc({ endpoint, outcome: 'rejected' }, rejected);
      }
    },
  });
  new Gauge({
    name: 'shopsim_http_request_duration_seconds',
    help: 'Store call latency quantiles since the start of the run, seconds (from the HDR histogram of the HTTP store)',
    labelNames: ['endpoint', 'quantile'],
    registers: [registry],
    collect() {
      this.reset();
      const m = httpMetrics();
      const put = (endpoint: string, lat: Record<string, unknown> | undefined) => {
        for (const q of ['p50', 'p95', 'p99'] as const) {
          const v = lat?.[q];
          if (typeof v === 'number') this.set({ endpoint, quantile: `0.${q.slice(1)}` }, v / 1000);
        }
      };
      put('all', m['latency_ms'] as Record<string, unknown> | undefined);
      for (const [endpoint, e] of Object.entries((m['endpoints'] ?? {}) as Record<string, { latency_ms?: Record<string, unknown> }>)) put(endpoint, e.latency_ms);
    },
  });
  new Counter({
    name: 'shopsim_store_calls_total',
    help: 'Store calls made by the shoppers (any store)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats()?.totals.calls ?? 0);
    },
  });
  new Gauge({
    name: 'shopsim_shoppers',
    help: 'Shoppers in each shopper state (sampled at 1 Hz)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, n] of Object.entries(getSampler()?.current().occupancy?.counts ?? {})) this.set({ state }, n);
    },
  });
  new Counter({
    name: 'shopsim_sessions_total',
    help: 'Shopper sessions by outcome',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const t = stats()?.totals;
      if (!t) return;
      this.inc({ outcome: 'checkout' }, t.checkouts);
      this.inc({ outcome: 'abandoned' }, t.abandoned);
      this.inc({ outcome: 'failed' }, t.failed);
      this.inc({ outcome: 'browse_only' }, t.idleBrowses);
    },
  });
  new Counter({
    name: 'shopsim_cycles_total',
    help: 'Cycles (simulated hours) completed',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats()?.cyclesCompleted ?? 0);
    },
  });
  new Gauge({
    name: 'shopsim_cycle_duration_seconds',
    help: 'Real seconds the last completed cycle took',
    registers: [registry],
    collect() {
      const h = getSampler()?.hours().at(-1);
      this.set(h?.durationSeconds ?? 0);
    },
  });
  new Gauge({
    name: 'shopsim_simulated_time_seconds',
    help: 'The simulated clock, Unix seconds',
    registers: [registry],
    collect() {
      const s = stats();
      this.set(s ? Date.parse(s.simulatedTime) / 1000 : 0);
    },
  });
  new Gauge({
    name: 'shopsim_active_agents',
    help: 'Agents active in the current or last cycle',
    registers: [registry],
    collect() {
      this.set(stats()?.activeAgents ?? 0);
    },
  });
  new Gauge({
    name: 'shopsim_breaker_open',
    help: '1 while the circuit breaker is open',
    registers: [registry],
    collect() {
      this.set(stats()?.breaker.state === 'open' ? 1 : 0);
    },
  });
  new Counter({
    name: 'shopsim_breaker_trips_total',
    help: 'Times the circuit breaker opened',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats()?.breaker.trips ?? 0);
    },
  });
  // The cohorts' workers (--workers N, --redis), one series each by `worker` (thread index or host:pid).
  const workers = () => workerTableOf(httpMetrics())?.rows ?? [];
  const perWorker = (name: string, help: string, value: (r: WorkerRow) => number, kind: 'counter' | 'gauge' = 'gauge') => {
    const Kind = kind === 'counter' ? Counter : Gauge;
    new Kind({
      name,
      help,
      labelNames: ['worker'],
      registers: [registry],
      collect(this: Counter | Gauge) {
        this.reset();
        for (const r of workers()) (this as Gauge).inc({ worker: r.id }, value(r));
      },
    });
  };
  perWorker('shopsim_worker_up', 'Per worker: 1 while its heartbeats arrive on time, 0 once stale, lost or left', (r) => (r.status === 'ok' || r.status === 'busy' ? 1 : 0));
  perWorker('shopsim_worker_cohorts', 'Per worker: cohorts it holds (threads) or cohort jobs it runs now (processes)', (r) => r.cohorts);
  perWorker('shopsim_worker_agent_cycles_total', 'Per worker: agent-cycles it ran', (r) => r.agent_cycles, 'counter');
  perWorker('shopsim_worker_requests_total', 'Per worker: store requests it made', (r) => r.requests, 'counter');
  perWorker('shopsim_worker_memory_bytes', "Per worker: its process's RSS, or a thread's heap in use", (r) => Math.round(r.memory_mb * 1048576));
  perWorker('shopsim_worker_heartbeat_age_seconds', 'Per worker: seconds since its last heartbeat reached the coordinator', (r) => r.heartbeat_age_s);
  new Gauge({
    name: 'shopsim_process_resident_memory_bytes',
    help: 'Resident set size of the shopsim process',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  return registry;
}
