import { EventEmitter } from 'node:events';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { attachMonitor, type MonitorHandle } from '../../src/cli/attach-monitor.ts';
import type { SimulationStats } from '../../src/model/run.ts';
import type { Simulation, SimulationEvents } from '../../src/simulation/types.ts';
import { sampleMemory, sampleStats } from '../monitor/fixtures.ts';
import { fakeControls } from './fake-controls.ts';

function fakeSim(initial: Partial<SimulationStats> = {}) {
  const c = fakeControls(initial);
  const sim = { config: { runId: 'r', warmupCycles: 0 }, events: new EventEmitter<SimulationEvents>(), ...c.target } as unknown as Simulation;
  return { sim, calls: c.calls, finishCheckpoint: (p: string | null) => c.settle().resolve(p), set: c.set };
}

function sink(isTTY = false) {
  const chunks: string[] = [];
  return { isTTY, columns: 80, write: (s: string) => (chunks.push(s), true), text: () => chunks.join(''), chunks };
}

function fakeStdin() {
  const stdin = new EventEmitter() as EventEmitter & { isTTY: boolean; raw: boolean[]; setRawMode(m: boolean): void; resume(): void; pause(): void; paused: boolean };
  stdin.isTTY = true;
  stdin.raw = [];
  stdin.paused = true;
  stdin.setRawMode = (m) => void stdin.raw.push(m);
  stdin.resume = () => void (stdin.paused = false);
  stdin.pause = () => void (stdin.paused = true);
  return stdin;
}

const base = { refreshSeconds: 60, color: false, memoryWarningMb: 12_000, breakerAction: 'exit' as const, readMemory: () => sampleMemory };
let handle: MonitorHandle | null = null;
afterEach(() => {
  handle?.detach();
  handle = null;
});

describe('attachMonitor without a terminal', () => {
  it('writes a cycle line and a breaker banner once per trip', () => {
    const { sim } = fakeSim();
    const stderr = sink();
    const stdout = sink();
    handle = attachMonitor(sim, { ...base, stdout, stderr, interactive: false, signals: false });
    const s = sampleStats();
    sim.events.emit('cycle', { cycle: 7, simulatedTime: s.simulatedTime, active: 150, totals: s.lastCycle!.totals, runTotals: s.totals, threshold: 18, breakerOpen: false, lagSeconds: 0, durationSeconds: 0.1, digest: 'd' });
    expect(stderr.text()).toMatch(/^cycle=7\/24 sim=2024-01-01T07:00:00Z active=150\/372 .* rss_mb=212 /);
    const open = sampleStats({ status: 'breaker_open', breaker: { state: 'open', threshold: 18, percent: 5, trips: 1, lastCycleFailures: 25 } });
    sim.events.emit('breaker-open', open);
    sim.events.emit('breaker-open', open);
    expect(stderr.text().match(/CIRCUIT BREAKER OPEN/g)).toHaveLength(1);
    expect(stderr.text()).toContain('continue later with: shopsim run --resume');
    expect(stdout.text()).toBe('');
  });

  it('signals: SIGUSR2 toggles pause, SIGUSR1 checkpoints, SIGTERM stops (143), a second SIGINT forces the exit', async () => {
    const { sim, calls, finishCheckpoint } = fakeSim();
    const stderr = sink();
    const exit = vi.fn();
    // A stand-in for the process: the signals reach the monitor the same way, the test runner is left alone.
    const signals = new EventEmitter();
    handle = attachMonitor(sim, { ...base, stdout: sink(), stderr, interactive: false, exit, signals });
    signals.emit('SIGUSR2');
    signals.emit('SIGUSR2');
    expect(calls).toEqual(['pause', 'resume']);
    signals.emit('SIGUSR1');
    finishCheckpoint('data/checkpoints/x.json');
    await new Promise((r) => setTimeout(r, 0));
    expect(stderr.text()).toContain('shopsim: checkpoint written: data/checkpoints/x.json');
    signals.emit('SIGTERM');
    expect(calls.at(-1)).toBe('stop');
    expect(handle.requestedExitCode()).toBe(143);
    expect(exit).not.toHaveBeenCalled();
    signals.emit('SIGINT');
    expect(exit).toHaveBeenCalledWith(130);
    expect(stderr.text()).toContain('SIGINT again: exiting now without a final checkpoint');
    handle.detach();
    expect(signals.listenerCount('SIGUSR2')).toBe(0);
    expect(process.listenerCount('SIGUSR2')).toBe(0);
  });

  it('listens to the process\'s signals by default, and stops listening on detach', () => {
    const { sim } = fakeSim();
    const before = process.listenerCount('SIGTERM');
    handle = attachMonitor(sim, { ...base, stdout: sink(), stderr: sink(), interactive: false });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    handle.detach();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});

describe('attachMonitor: logs and memory', () => {
  it('logs the cycle before the memory warning, and warns on stderr once a minute, not every cycle', () => {
    const { sim } = fakeSim();
    const stderr = sink();
    const records: Record<string, unknown>[] = [];
    const logger = pino({ base: null, timestamp: false }, { write: (line: string) => void records.push(JSON.parse(line)) });
    handle = attachMonitor(sim, { ...base, memoryWarningMb: 200, stdout: sink(), stderr, interactive: false, signals: false, logger });
    const s = sampleStats();
    const cycle = (n: number) => ({ cycle: n, simulatedTime: s.simulatedTime, active: 150, totals: { ...s.lastCycle!.totals, failed: 0 }, runTotals: s.totals, threshold: 18, breakerOpen: false, lagSeconds: 0, durationSeconds: 0.1, digest: 'd' });
    sim.events.emit('cycle', cycle(1));
    sim.events.emit('cycle', cycle(2));
    expect(records.map((r) => r['event'])).toEqual(['cycle', 'memory', 'cycle']);
    expect(records[0]).toMatchObject({ cycle: 1, rssMb: 212.4 });
    expect(stderr.text().match(/shopsim: memory warning: RSS 212 MB > --memory-warning-mb 200/g)).toHaveLength(1);
    expect(stderr.text().split('\n').filter((l) => l.startsWith('cycle='))).toHaveLength(2);
    sim.events.emit('checkpoint', { path: 'data/checkpoints/y.json', trigger: 'interval', cycle: 2 });
    expect(records.slice(-2).map((r) => [r['event'], r['msg']])).toEqual([['checkpoint', 'checkpoint written'], ['notice', 'checkpoint (interval, cycle 2) written: data/checkpoints/y.json']]);
    expect(stderr.text()).toContain('shopsim: checkpoint (interval, cycle 2) written: data/checkpoints/y.json');
  });
});

describe('attachMonitor on a terminal', () => {
  it('draws on the alternate screen, handles p r c s q in raw mode, and restores the terminal', async () => {
    const { sim, calls, finishCheckpoint, set } = fakeSim();
    const stdout = sink(true);
    const stdin = fakeStdin();
    handle = attachMonitor(sim, { ...base, stdout, stderr: sink(), stdin, interactive: true, signals: false });
    expect(stdin.raw).toEqual([true]);
    expect(stdout.chunks[0]).toContain('\u001b[?1049h');
    expect(stdout.text()).toContain('\u001b[H');
    expect(stdout.text()).toContain('keys: p pause');
    stdin.emit('data', 'p');
    expect(calls).toEqual(['pause']);
    expect(stdout.chunks.at(-1)).toContain('PAUSED');
    stdin.emit('data', 'c');
    finishCheckpoint('data/checkpoints/c.json');
    await new Promise((r) => setTimeout(r, 0));
    expect(stdout.chunks.at(-1)).toContain('checkpoint written: data/checkpoints/c.json');
    stdin.emit('data', 's');
    expect(stdout.chunks.at(-1)).toMatch(/stats status=paused cycles=7\/24/);
    set({ status: 'breaker_open', breaker: { state: 'open', threshold: 18, percent: 5, trips: 1, lastCycleFailures: 25 } });
    handle.redraw();
    expect(stdout.chunks.at(-1)).toContain('Press r to resume');
    stdin.emit('data', 'r');
    expect(calls.at(-1)).toBe('resume');
    expect(stdout.chunks.at(-1)).toContain('circuit breaker closed, resumed (r)');
    stdin.emit('data', 'q');
    expect(calls.at(-1)).toBe('stop');
    expect(handle.requestedExitCode()).toBe(0);
    expect(stdout.chunks.at(-1)).toContain('QUITTING');
    handle.detach();
    expect(stdin.raw).toEqual([true, false]);
    expect(stdin.paused).toBe(true);
    expect(stdout.chunks.at(-1)).toContain('\u001b[?1049l');
  });

  it('Ctrl-C stops gracefully (130); a second Ctrl-C restores the terminal, then forces the exit', () => {
    const { sim, calls } = fakeSim();
    const stdout = sink(true);
    const stdin = fakeStdin();
    let rawAtExit: boolean[] = [];
    const exit = vi.fn(() => void (rawAtExit = [...stdin.raw]));
    handle = attachMonitor(sim, { ...base, stdout, stderr: sink(), stdin, interactive: true, signals: false, exit });
    stdin.emit('data', '\u0003');
    expect(calls).toEqual(['stop']);
    expect(handle.requestedExitCode()).toBe(130);
    stdin.emit('data', '\u0003');
    expect(exit).toHaveBeenCalledWith(130);
    expect(rawAtExit).toEqual([true, false]);
  });

  it('restores raw mode when the process exits (crash included)', () => {
    const { sim } = fakeSim();
    const stdin = fakeStdin();
    const exitHooks = new EventEmitter();
    handle = attachMonitor(sim, { ...base, stdout: sink(true), stderr: sink(), stdin, interactive: true, signals: false, exitHooks });
    exitHooks.emit('uncaughtExceptionMonitor', new Error('boom'));
    expect(stdin.raw).toEqual([true, false]);
  });
});
