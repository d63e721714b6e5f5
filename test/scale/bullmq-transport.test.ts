/**
 * The BullMQ transport's mechanics against the real Redis (TEST_REDIS_URL), with a processor that
 * is a pure function of the job (fixtures/trivial-processor.ts): flows and their barrier, results
 * in cohort order, job ids that de-duplicate, small job data whatever the snapshot size, a failing
 * cohort that fails the run instead of leaving the parent waiting, a CPU-bound cohort that keeps
 * its lock, a SIGKILLed worker whose job another worker takes over, the join handshake and
 * heartbeats, and Redis going away mid-cycle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { FlowProducer, Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  openCoordinator,
  parseRedisUrl,
  probeRedis,
  startCohortWorker,
  transportKeys,
  type Coordinator,
  type CoordinatorEvent,
  type CohortWorker,
  type CohortWorkerOptions,
  type WorkerEvent,
} from '../../src/scale/bullmq-transport.ts';
import { redisTestSpace, TEST_REDIS_URL, type RedisTestSpace } from '../helpers.ts';
import { freePort, HAS_REDIS_SERVER, privateRedis } from './fixtures/private-redis.ts';
import { trivialStep } from './fixtures/trivial-processor.ts';

const PROCESSOR = new URL('./fixtures/trivial-processor.ts', import.meta.url).href;
const WORKER_PROCESS = new URL('./fixtures/worker-process.ts', import.meta.url).pathname;
const IDENTITY = { version: '9.9.9-test', fingerprint: 'sha256:test-data' };
const FAST = { heartbeatMs: 400, lockDurationMs: 1000, stalledIntervalMs: 500 };

/** The results a run of `cohorts` × `cycles` must give: the processor applied locally, in order. */
function expected(cohorts: number, cycles: number, input: unknown | ((cycle: number) => unknown) = {}): unknown[][] {
  const snaps = Array.from({ length: cohorts }, () => JSON.stringify({ chain: 'genesis', cycles: 0 }));
  const out: unknown[][] = [];
  for (let cycle = 1; cycle <= cycles; cycle++) {
    out.push(
      snaps.map((snapshot, cohort) => {
        const r = trivialStep({ cycle, cohort, snapshot, input: typeof input === 'function' ? (input as (c: number) => unknown)(cycle) : input });
        snaps[cohort] = r.snapshot;
        return r.result;
      }),
    );
  }
  return out;
}

describe.skipIf(!TEST_REDIS_URL)('BullMQ transport (real Redis)', () => {
  let space: RedisTestSpace;
  const closers: (() => Promise<unknown>)[] = [];
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    space = await redisTestSpace();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const close of closers.splice(0).reverse()) await close().catch(() => {});
    await space.cleanup();
  });

  async function coordinator(runId: string, extra: Partial<Parameters<typeof openCoordinator>[0]> = {}, events: CoordinatorEvent[] = []): Promise<Coordinator> {
    const c = await openCoordinator({ url: space.url, prefix: space.prefix, runId, identity: IDENTITY, ...FAST, onEvent: (e) => events.push(e), ...extra });
    closers.push(() => c.close());
    return c;
  }

  async function worker(extra: Partial<CohortWorkerOptions> = {}, events: WorkerEvent[] = []): Promise<CohortWorker> {
    const w = await startCohortWorker({ url: space.url, prefix: space.prefix, identity: IDENTITY, processorUrl: PROCESSOR, ...FAST, onEvent: (e) => events.push(e), ...extra });
    closers.push(() => w.close());
    return w;
  }

  async function seed(c: Coordinator, cohorts: number, pad = 0): Promise<void> {
    for (let i = 0; i < cohorts; i++) await c.putSnapshot(i, 0, JSON.stringify({ chain: 'genesis', cycles: 0, ...(pad ? { pad: 'x'.repeat(pad) } : {}) }));
  }

  it('runs cycles through a flow per cycle: results in cohort order, equal to the processor run locally; job data small with 250 KB snapshots', async () => {
    const c = await coordinator('run-flow');
    const events: WorkerEvent[] = [];
    await worker({ concurrency: 2 }, events);
    await worker({}, events);
    await c.waitForWorkers(2, 10_000);
    const cohorts = 5;
    // A 250 KB snapshot: it travels as a key, the job carries only its name.
    await seed(c, cohorts, 250_000);
    const got: unknown[][] = [];
    for (let cycle = 1; cycle <= 3; cycle++) {
      const results = await c.runCycle(cycle, Array.from({ length: cohorts }, (_, cohort) => ({ cohort, input: {} })));
      // One job per slot given cohorts (3 threads, 5 cohorts: 3 jobs), each holding its slot's cohorts in cohort order.
      const assigned = c.assignments();
      const jobs = c.jobs();
      expect(jobs.length).toBe(new Set(assigned.values()).size);
      expect(jobs.flatMap((j) => j.cohorts).sort()).toEqual([0, 1, 2, 3, 4]);
      for (const j of jobs) expect(j.cohorts).toEqual([...assigned].filter(([, q]) => q === j.queue).map(([cohort]) => cohort).sort());
      if (cycle === 1) {
        // Cohort 3's job is on the slot queue of the thread it was given (cohort affinity).
        const queue = assigned.get(3)!;
        expect(queue).toMatch(new RegExp(`^${transportKeys(space.prefix, 'run-flow').cohortsQueue}-.+-\\d$`));
        const q = new Queue(queue, { connection: parseRedisUrl(space.url), prefix: space.prefix });
        const mine = jobs.find((j) => j.cohorts.includes(3))!;
        expect(mine.id).toBe(transportKeys(space.prefix, 'run-flow').childId(1, mine.cohorts[0]!));
        const job = await Job.fromId(q, mine.id);
        expect(job).toBeTruthy();
        expect(job!.data.cohorts).toEqual(mine.cohorts);
        // References, not state: under 400 bytes per cohort as with one job per cohort, and in fact far less.
        expect(JSON.stringify(job!.data).length).toBeLessThan(100 + 20 * mine.cohorts.length);
        await q.close();
      }
      got.push(results);
    }
    expect(got.length).toBe(3);
    for (const cycle of got) expect(cycle.map((r) => (r as { cohort: number }).cohort)).toEqual([0, 1, 2, 3, 4]);
    expect(got).toEqual(expected(5, 3));
    // Every cohort ran once per cycle, on one of the two workers, in 3 jobs a cycle.
    expect(events.filter((e) => e.type === 'cohort-done').length).toBe(15);
    expect(events.filter((e) => e.type === 'job-done').length).toBe(9);
  });

  it('gives exactly the locally computed results, in cohort order, whichever worker finished first', async () => {
    const c = await coordinator('run-exact');
    await worker({ concurrency: 2 });
    await worker({ concurrency: 2 });
    await c.waitForWorkers(2, 10_000);
    await seed(c, 6);
    const got: unknown[][] = [];
    for (let cycle = 1; cycle <= 3; cycle++) got.push(await c.runCycle(cycle, Array.from({ length: 6 }, (_, cohort) => ({ cohort, input: {} }))));
    expect(got).toEqual(expected(6, 3));
  });

  it('de-duplicates a flow added twice by its job ids', async () => {
    const keys = transportKeys(space.prefix, 'run-dedupe');
    const flows = new FlowProducer({ connection: parseRedisUrl(space.url), prefix: space.prefix });
    const flow = () =>
      flows.add({
        name: 'barrier',
        queueName: keys.barrierQueue,
        opts: { jobId: keys.parentId(1) },
        children: [0, 1, 2].map((cohort) => ({ name: 'cohort', queueName: keys.cohortsQueue, data: { cohort }, opts: { jobId: keys.childId(1, cohort) } })),
      });
    await flow();
    await flow();
    const q = new Queue(keys.cohortsQueue, { connection: parseRedisUrl(space.url), prefix: space.prefix });
    expect(await q.getJobCountByTypes('wait', 'active', 'completed', 'failed', 'delayed', 'prioritized')).toBe(3);
    await q.obliterate({ force: true });
    await new Queue(keys.barrierQueue, { connection: parseRedisUrl(space.url), prefix: space.prefix }).obliterate({ force: true });
    await q.close();
    await flows.close();
  });

  it('a cohort that keeps failing fails the run with one clear line after its attempts, instead of a parent waiting forever', async () => {
    const c = await coordinator('run-fail', { attempts: 3 });
    const events: WorkerEvent[] = [];
    await worker({}, events);
    await c.waitForWorkers(1, 10_000);
    await seed(c, 3);
    const t0 = Date.now();
    await expect(c.runCycle(1, [0, 1, 2].map((cohort) => ({ cohort, input: { failCohort: 1 } })))).rejects.toThrow(
      /^cohort 1 of cycle 1 failed 3 times \(last: injected failure of cohort 1\); the run stops at cycle 0$/,
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(events.filter((e) => e.type === 'cohort-started' && e.cohort === 1).length).toBe(3);
  });

  it('a CPU-bound cohort cycle (3× the lock duration, synchronous) keeps its lock: run once, not stalled', async () => {
    const c = await coordinator('run-cpu');
    const events: WorkerEvent[] = [];
    await worker({}, events);
    await worker({}, events);
    await c.waitForWorkers(2, 10_000);
    await seed(c, 2);
    const results = await c.runCycle(1, [0, 1].map((cohort) => ({ cohort, input: { spinMs: 3 * FAST.lockDurationMs } })));
    expect(results).toEqual(expected(2, 1, { spinMs: 3000 })[0]);
    // Each cohort started once: no stalled-job re-run by the other worker.
    expect(events.filter((e) => e.type === 'cohort-started').map((e) => (e as { cohort: number }).cohort).sort()).toEqual([0, 1]);
  });

  it('SIGKILL of a worker mid-cohort: the coordinator sees it lost within one heartbeat interval, another worker re-runs the job, same results', async () => {
    const coordEvents: CoordinatorEvent[] = [];
    const c = await coordinator('run-kill', {}, coordEvents);
    const { child, events: childEvents } = workerProcess();
    await c.waitForWorkers(1, 30_000);
    await seed(c, 1);
    const running = c.runCycle(1, [{ cohort: 0, input: { slowMs: 4000 } }]);
    const until = Date.now() + 15_000;
    while (!childEvents.some((e) => e.type === 'cohort-started') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(childEvents.some((e) => e.type === 'cohort-started')).toBe(true);
    // The survivor joins only now, so the job was the killed worker's.
    const events: WorkerEvent[] = [];
    await worker({}, events);
    child.kill('SIGKILL');
    const killedAt = Date.now();
    let lostAfter = Infinity;
    const watch = setInterval(() => {
      if (lostAfter === Infinity && coordEvents.some((e) => e.type === 'worker-lost')) lostAfter = Date.now();
    }, 10);
    const results = await running;
    clearInterval(watch);
    expect(results).toEqual(expected(1, 1, { slowMs: 4000 })[0]);
    expect(events.filter((e) => e.type === 'cohort-done').length).toBe(1);
    const lost = coordEvents.findIndex((e) => e.type === 'worker-lost');
    expect(lost).toBeGreaterThanOrEqual(0);
    // Lost = no beat for two intervals (the key's TTL), checked four times per interval: seen
    // within one interval of the first missed beat.
    expect(lostAfter - killedAt).toBeLessThanOrEqual(2 * FAST.heartbeatMs + FAST.heartbeatMs / 4 + 250);
  });

  it("a worker's heartbeat says where the shoppers of its running cohorts are (the web map), and stops saying it once they are done", async () => {
    const c = await coordinator('run-occupancy');
    await worker({ concurrency: 2 });
    await c.waitForWorkers(1, 30_000);
    await seed(c, 2);
    const cycle = c.runCycle(1, [0, 1].map((cohort) => ({ cohort, input: { slowMs: 2500 } })));
    const running = () => c.workerTally()[0]?.worker.running ?? {};
    const until = Date.now() + 10_000;
    while (Object.keys(running()).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    // What the processor's occupancy says on the thread, through the pool's beat, the worker's heartbeat and Redis.
    expect(running()).toEqual({ 'cohort-0': { browsing: 3 }, 'cohort-1': { browsing: 3 } });
    expect(await cycle).toEqual(expected(2, 1, { slowMs: 2500 })[0]);
    const after = Date.now() + 3 * FAST.heartbeatMs + 2000;
    while (Object.keys(running()).length > 0 && Date.now() < after) await new Promise((r) => setTimeout(r, 50));
    expect(running()).toEqual({});
  });

  it("a worker record's running counts are checked when read: anything but counts is dropped", async () => {
    const c = await coordinator('run-occupancy-bad');
    // A record as a tampered Redis (or another program) could hold: a worker of this version and data whose running counts are wrong.
    const r = new Redis(space.url);
    try {
      const rec = { id: 'fake-1', host: 'h', pid: 1, version: IDENTITY.version, fingerprint: IDENTITY.fingerprint, runId: 'run-occupancy-bad', concurrency: 1, active: 0, done: 0, rssBytes: 1, beatAt: new Date().toISOString(),
        running: { 'cohort-0': { browsing: -1, idle: 2.5, carting: 'x', deciding: 4 }, 'cohort-1': 'nope', 'cohort-2': [1] } };
      await r.multi().set(`${space.prefix}:worker:run-occupancy-bad:fake-1`, JSON.stringify(rec), 'PX', 60_000).sadd(`${space.prefix}:workers:run-occupancy-bad`, 'fake-1').exec();
      await c.waitForWorkers(1, 10_000);
      expect(c.workerTally().find((t) => t.worker.id === 'fake-1')?.worker.running).toEqual({ 'cohort-0': { deciding: 4 } });
    } finally {
      r.disconnect();
    }
  });

  /** A `shopsim worker` in a process of its own (to be SIGKILLed), its events gathered. */
  function workerProcess(extra: Partial<CohortWorkerOptions> = {}): { child: ChildProcess; events: WorkerEvent[] } {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_PROCESS], {
      env: { ...process.env, SHOPSIM_TEST_WORKER: JSON.stringify({ url: space.url, prefix: space.prefix, identity: IDENTITY, processorUrl: PROCESSOR, ...FAST, ...extra }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const events: WorkerEvent[] = [];
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buf.slice(0, i)) as WorkerEvent);
        buf = buf.slice(i + 1);
      }
    });
    return { child, events };
  }

  const doneOn = (events: WorkerEvent[]) => events.filter((e) => e.type === 'cohort-done') as Extract<WorkerEvent, { type: 'cohort-done' }>[];

  it("cohort affinity: each cohort's jobs go to one thread's own queue, cycle after cycle, spread evenly over the threads", async () => {
    const c = await coordinator('run-affinity');
    const a: WorkerEvent[] = [];
    const b: WorkerEvent[] = [];
    const wa = await worker({ concurrency: 2 }, a);
    const wb = await worker({ concurrency: 1 }, b);
    await c.waitForWorkers(2, 10_000);
    await seed(c, 7);
    const got: unknown[][] = [];
    const queues: Map<number, string>[] = [];
    for (let cycle = 1; cycle <= 4; cycle++) {
      got.push(await c.runCycle(cycle, Array.from({ length: 7 }, (_, cohort) => ({ cohort, input: {} }))));
      queues.push(new Map(c.assignments()));
    }
    expect(got).toEqual(expected(7, 4));
    // The same queue for every cohort in every cycle, and it is the queue that ran it.
    for (const q of queues) expect(q).toEqual(queues[0]);
    const keys = transportKeys(space.prefix, 'run-affinity');
    const slots = [keys.slotQueue(wa.id, 0), keys.slotQueue(wa.id, 1), keys.slotQueue(wb.id, 0)];
    const count = (q: string) => [...queues[0]!.values()].filter((x) => x === q).length;
    expect(slots.map(count).sort()).toEqual([2, 2, 3]);
    for (const e of [...doneOn(a), ...doneOn(b)]) expect(e.queue).toBe(queues[0]!.get(e.cohort));
    // One job per slot per cycle, holding exactly that slot's cohorts in cohort order.
    const jobsDone = [...a, ...b].filter((e) => e.type === 'job-done') as Extract<WorkerEvent, { type: 'job-done' }>[];
    expect(jobsDone.length).toBe(4 * 3);
    for (let cycle = 1; cycle <= 4; cycle++) {
      const ofCycle = jobsDone.filter((e) => e.cycle === cycle);
      expect(ofCycle.map((e) => e.queue).sort()).toEqual([...slots].sort());
      for (const e of ofCycle) expect(e.cohorts).toEqual([...queues[0]!].filter(([, q]) => q === e.queue).map(([cohort]) => cohort).sort());
    }
    // Each worker ran its cohorts in all 4 cycles, nothing else.
    const byWorker = (events: WorkerEvent[]) => new Set(doneOn(events).map((e) => e.cohort));
    expect([...byWorker(a)].length + [...byWorker(b)].length).toBe(7);
    expect(doneOn(a).length + doneOn(b).length).toBe(28);
  });

  it('a worker that joins gets cohorts moved to it at the next cycle, only as many as needed to even the counts', async () => {
    const c = await coordinator('run-rebalance');
    const a: WorkerEvent[] = [];
    const wa = await worker({ concurrency: 1 }, a);
    await c.waitForWorkers(1, 10_000);
    await seed(c, 5);
    const got: unknown[][] = [];
    const run = async (cycle: number) => got.push(await c.runCycle(cycle, Array.from({ length: 5 }, (_, cohort) => ({ cohort, input: {} }))));
    await run(1);
    const keys = transportKeys(space.prefix, 'run-rebalance');
    expect([...c.assignments().values()]).toEqual(Array(5).fill(keys.slotQueue(wa.id, 0)));
    const b: WorkerEvent[] = [];
    const wb = await worker({ concurrency: 1 }, b);
    await c.waitForWorkers(2, 10_000);
    await run(2);
    const second = new Map(c.assignments());
    const onB = [...second].filter(([, q]) => q === keys.slotQueue(wb.id, 0)).map(([cohort]) => cohort);
    expect(onB.length).toBe(2);
    await run(3);
    expect(new Map(c.assignments())).toEqual(second);
    expect(got).toEqual(expected(5, 3));
    expect(new Set(doneOn(b).map((e) => e.cohort))).toEqual(new Set(onB));
  });

  it("SIGKILL of a worker with jobs active and waiting in its slot queue: the others take its queue over (the active ones when their locks expire), same results, and its cohorts move to them at the next cycle", async () => {
    const coordEvents: CoordinatorEvent[] = [];
    // Two cohorts a job: the killed worker's six cohorts are three jobs on its queue.
    const c = await coordinator('run-takeover', { cohortsPerJob: 2 }, coordEvents);
    const { child, events: childEvents } = workerProcess();
    const survivor: WorkerEvent[] = [];
    const w = await worker({ concurrency: 1 }, survivor);
    await c.waitForWorkers(2, 30_000);
    const childId = c.workers().find((x) => x.id !== w.id)!.id;
    const keys = transportKeys(space.prefix, 'run-takeover');
    const childQueue = keys.slotQueue(childId, 0);
    await seed(c, 12);
    const input = (cycle: number) => (cycle === 1 ? { slowMs: 600 } : {});
    const running = c.runCycle(1, Array.from({ length: 12 }, (_, cohort) => ({ cohort, input: input(1) })));
    const until = Date.now() + 15_000;
    while (!childEvents.some((e) => e.type === 'cohort-started') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    // Six cohorts in three jobs on the killed worker's queue: two active (one with a cohort running
    // on its thread, the other fetched ahead, waiting for the thread), one waiting in the queue.
    const childCohorts = [...c.assignments()].filter(([, q]) => q === childQueue).map(([cohort]) => cohort);
    expect(childCohorts.length).toBe(6);
    const childJobs = c.jobs().filter((j) => j.queue === childQueue);
    expect(childJobs.map((j) => j.cohorts.length)).toEqual([2, 2, 2]);
    const q = new Queue(childQueue, { connection: parseRedisUrl(space.url), prefix: space.prefix });
    const counts = await q.getJobCounts('active', 'waiting');
    await q.close();
    expect(counts).toEqual({ active: 2, waiting: 1 });
    child.kill('SIGKILL');
    const first = await running;
    expect(coordEvents.some((e) => e.type === 'worker-lost')).toBe(true);
    // The survivor ran the killed worker's six cohorts from its queue, and its own six.
    const taken = doneOn(survivor).filter((e) => e.queue === childQueue).map((e) => e.cohort).sort();
    expect(taken).toEqual(childCohorts.sort());
    expect(doneOn(childEvents).length).toBe(0);
    // … as the same three jobs.
    const takenJobs = survivor.filter((e) => e.type === 'job-done' && e.queue === childQueue) as Extract<WorkerEvent, { type: 'job-done' }>[];
    expect(takenJobs.map((e) => e.cohorts).sort()).toEqual(childJobs.map((j) => j.cohorts).sort());
    // The tally counts cohort cycles, exactly: the survivor's 12, the killed worker's none.
    const tally = new Map(c.workerTally().map((t) => [t.worker.id, t.jobs]));
    expect([tally.get(w.id), tally.get(childId)]).toEqual([12, 0]);
    const got = [first];
    got.push(await c.runCycle(2, Array.from({ length: 12 }, (_, cohort) => ({ cohort, input: input(2) }))));
    expect(got).toEqual(expected(12, 2, input));
    expect(new Set(c.assignments().values())).toEqual(new Set([keys.slotQueue(w.id, 0)]));
  }, 60_000);

  it('SIGKILL of a worker in the middle of a slot job of several cohorts (some already written): the survivor runs the whole job again, same results', async () => {
    const coordEvents: CoordinatorEvent[] = [];
    const c = await coordinator('run-midjob', {}, coordEvents);
    const { child, events: childEvents } = workerProcess();
    const survivor: WorkerEvent[] = [];
    const w = await worker({ concurrency: 1 }, survivor);
    await c.waitForWorkers(2, 30_000);
    const childId = c.workers().find((x) => x.id !== w.id)!.id;
    const childQueue = transportKeys(space.prefix, 'run-midjob').slotQueue(childId, 0);
    await seed(c, 12);
    const input = (cycle: number) => (cycle === 1 ? { slowMs: 300 } : {});
    const running = c.runCycle(1, Array.from({ length: 12 }, (_, cohort) => ({ cohort, input: input(1) })));
    // One job of six cohorts on the killed worker's queue.
    const childJobs = c.jobs().filter((j) => j.queue === childQueue);
    expect(childJobs.length).toBe(1);
    expect(childJobs[0]!.cohorts.length).toBe(6);
    // Killed after two of its cohorts were done (state and result written), the third running.
    const until = Date.now() + 15_000;
    while (doneOn(childEvents).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(doneOn(childEvents).length).toBeGreaterThanOrEqual(2);
    child.kill('SIGKILL');
    const before = doneOn(childEvents).map((e) => e.cohort);
    expect(before.length).toBeLessThan(6);
    expect(childEvents.some((e) => e.type === 'job-done')).toBe(false);
    const first = await running;
    expect(coordEvents.some((e) => e.type === 'worker-lost')).toBe(true);
    // The survivor ran the whole job again from its queue (all six cohorts, those written before too).
    const again = survivor.filter((e) => e.type === 'job-done' && e.queue === childQueue) as Extract<WorkerEvent, { type: 'job-done' }>[];
    expect(again.map((e) => e.cohorts)).toEqual([childJobs[0]!.cohorts]);
    expect(doneOn(survivor).filter((e) => e.queue === childQueue).map((e) => e.cohort)).toEqual(childJobs[0]!.cohorts);
    const got = [first, await c.runCycle(2, Array.from({ length: 12 }, (_, cohort) => ({ cohort, input: input(2) })))];
    expect(got).toEqual(expected(12, 2, input));
    const tally = new Map(c.workerTally().map((t) => [t.worker.id, t.jobs]));
    expect([tally.get(w.id), tally.get(childId)]).toEqual([24, 0]);
  }, 60_000);

  it('a worker of another version, or with other data, is refused at join with one line', async () => {
    await coordinator('run-join');
    const other = await startCohortWorker({ url: space.url, prefix: space.prefix, identity: { ...IDENTITY, version: '0.0.1' }, processorUrl: PROCESSOR, ...FAST });
    await expect(other.finished).rejects.toThrow(/^worker refused by run run-join on redis:\/\/127\.0\.0\.1:6379: this worker is shopsim 0\.0\.1, the run is 9\.9\.9-test \(install the same version on every machine\)$/);
    const data = await startCohortWorker({ url: space.url, prefix: space.prefix, identity: { ...IDENTITY, fingerprint: 'sha256:other' }, processorUrl: PROCESSOR, ...FAST });
    await expect(data.finished).rejects.toThrow(/^worker refused by run run-join on .*: its personas\/products data differ/);
  });

  it("a worker on another machine is refused at join when the run's store or database is on the coordinator's loopback", async () => {
    await coordinator('run-loopback', { identity: { ...IDENTITY, host: 'coord-host' }, loopbackOnly: 'bundled store (in the coordinator) and the embedded database (written through the coordinator)' });
    const elsewhere = await startCohortWorker({ url: space.url, prefix: space.prefix, identity: { ...IDENTITY, host: 'other-host' }, processorUrl: PROCESSOR, ...FAST });
    await expect(elsewhere.finished).rejects.toThrow(
      /^worker refused by run run-loopback on redis:\/\/127\.0\.0\.1:6379: its bundled store \(in the coordinator\) and the embedded database \(written through the coordinator\) listen on 127\.0\.0\.1 of coord-host, not reachable from this machine \(other-host\); run workers on coord-host, or start the run with --api-url \(a store every machine reaches\) and --database-url \(PostgreSQL\)$/,
    );
    // On the coordinator's machine it joins.
    const events: WorkerEvent[] = [];
    await worker({ identity: { ...IDENTITY, host: 'coord-host' } }, events);
    const until = Date.now() + 10_000;
    while (!events.some((e) => e.type === 'joined') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(events.map((e) => e.type)).toContain('joined');
  });

  it('a worker stopped gracefully is said to have left, not lost', async () => {
    const events: CoordinatorEvent[] = [];
    const c = await coordinator('run-left', {}, events);
    const w = await worker();
    await c.waitForWorkers(1, 10_000);
    await w.close();
    const until = Date.now() + 5000;
    while (!events.some((e) => e.type === 'worker-left') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(events.map((e) => e.type)).toEqual(['worker-joined', 'worker-left', 'no-workers']);
    expect(c.workers()).toEqual([]);
  });

  it('a second run on the same key prefix is refused with one line while the first runs, and allowed after it closed', async () => {
    const first = await coordinator('run-first');
    const err = await openCoordinator({ url: space.url, prefix: space.prefix, runId: 'run-second', identity: IDENTITY, ...FAST }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`--redis redis://127.0.0.1:6379: run run-first is running there with the key prefix ${space.prefix} (one run at a time per prefix: give this one another --redis-prefix); nothing was written`);
    expect((err as { exitCode: number }).exitCode).toBe(2);
    await first.close();
    const second = await coordinator('run-second');
    expect(second.runId).toBe('run-second');
  });

  it('Redis unreachable at start: one line, exit code 2', async () => {
    const port = await freePort();
    const err = await probeRedis(`redis://127.0.0.1:${port}`).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`--redis redis://127.0.0.1:${port}: Redis does not answer (ECONNREFUSED); nothing was written`);
    expect((err as { exitCode: number }).exitCode).toBe(2);
  });
});

if (TEST_REDIS_URL && !HAS_REDIS_SERVER) console.warn('[test/scale/bullmq-transport] SKIPPED the Redis restart test: no redis-server binary to start a private Redis.');

describe.skipIf(!TEST_REDIS_URL || !HAS_REDIS_SERVER)('BullMQ transport: Redis restarted mid-cycle (a private redis-server)', () => {
  it('the run pauses with a message while Redis is away and continues when it is back, with the same results', async () => {
    const redis = await privateRedis();
    let c: Coordinator | null = null;
    let w: CohortWorker | null = null;
    try {
      await redis.start();
      const events: CoordinatorEvent[] = [];
      c = await openCoordinator({ url: redis.url, prefix: 'shopsim-t', runId: 'run-restart', identity: IDENTITY, ...FAST, onEvent: (e) => events.push(e) });
      const workerEvents: WorkerEvent[] = [];
      w = await startCohortWorker({ url: redis.url, prefix: 'shopsim-t', identity: IDENTITY, processorUrl: PROCESSOR, ...FAST, onEvent: (e) => workerEvents.push(e) });
      await c.waitForWorkers(1, 10_000);
      for (let i = 0; i < 2; i++) await c.putSnapshot(i, 0, JSON.stringify({ chain: 'genesis', cycles: 0 }));
      expect(await c.runCycle(1, [0, 1].map((cohort) => ({ cohort, input: {} })))).toEqual(expected(2, 1)[0]);
      const second = c.runCycle(2, [0, 1].map((cohort) => ({ cohort, input: { slowMs: 1500 } })));
      await new Promise((r) => setTimeout(r, 300));
      redis.kill();
      await new Promise((r) => setTimeout(r, 1500));
      expect(events.some((e) => e.type === 'redis-down')).toBe(true);
      await redis.start();
      const results = await second;
      expect(events.some((e) => e.type === 'redis-back')).toBe(true);
      expect(results).toEqual(expected(2, 2, (cycle: number) => (cycle === 1 ? {} : { slowMs: 1500 }))[1]);
      // Both cohorts of both cycles ran; an outage longer than the lock (1 s here) may make a job in
      // flight run again once Redis is back (its lock expired): from the same input, with the same result.
      const started = workerEvents.filter((e) => e.type === 'cohort-started') as { cycle: number; cohort: number }[];
      expect(new Set(started.map((e) => `${e.cycle}:${e.cohort}`))).toEqual(new Set(['1:0', '1:1', '2:0', '2:1']));
    } finally {
      await w?.close().catch(() => {});
      await c?.close().catch(() => {});
      redis.cleanup();
    }
  }, 60_000);
});

describe.skipIf(!TEST_REDIS_URL || !HAS_REDIS_SERVER)('BullMQ transport: Redis restarted without persistence (a private redis-server)', () => {
  it("the run stops with one line saying Redis lost the run's data, instead of waiting forever", async () => {
    const redis = await privateRedis({ persist: false });
    let c: Coordinator | null = null;
    let w: CohortWorker | null = null;
    try {
      await redis.start();
      const events: CoordinatorEvent[] = [];
      c = await openCoordinator({ url: redis.url, prefix: 'shopsim-t', runId: 'run-lost', identity: IDENTITY, ...FAST, onEvent: (e) => events.push(e) });
      w = await startCohortWorker({ url: redis.url, prefix: 'shopsim-t', identity: IDENTITY, processorUrl: PROCESSOR, ...FAST });
      await c.waitForWorkers(1, 10_000);
      await c.putSnapshot(0, 0, JSON.stringify({ chain: 'genesis', cycles: 0 }));
      const cycle = c.runCycle(1, [{ cohort: 0, input: { slowMs: 1500 } }]);
      await new Promise((r) => setTimeout(r, 300));
      redis.kill();
      await new Promise((r) => setTimeout(r, 800));
      await redis.start();
      const t0 = Date.now();
      await expect(cycle).rejects.toThrow(/^Redis at redis:\/\/127\.0\.0\.1:\d+ came back without this run's data \(restarted without persistence\?\); the run stops at the last checkpoint$/);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(events.some((e) => e.type === 'redis-down')).toBe(true);
    } finally {
      await w?.close().catch(() => {});
      await c?.close().catch(() => {});
      redis.cleanup();
    }
  }, 60_000);
});
