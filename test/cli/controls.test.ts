import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { createControls, type RunControls } from '../../src/cli/controls.ts';
import type { SimulationStats } from '../../src/model/run.ts';
import { sampleMemory, sampleStats } from '../monitor/fixtures.ts';
import { fakeControls } from './fake-controls.ts';

const fakeTarget = fakeControls;

function setup(options: { keys?: boolean; userSignals?: boolean; initial?: Partial<SimulationStats> } = {}) {
  const t = fakeTarget(options.initial);
  const notices: string[] = [];
  const forceExit = vi.fn();
  const signals = new EventEmitter();
  const controls = createControls(t.target, {
    notify: (m) => void notices.push(m),
    keys: options.keys ?? false,
    signals,
    userSignals: options.userSignals ?? true,
    forceExit,
    readMemory: () => sampleMemory,
  });
  return { ...t, notices, forceExit, signals, controls };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('controls: signals', () => {
  it('SIGUSR2 toggles pause, and resumes an open breaker', () => {
    const { calls, notices, signals, set } = setup();
    signals.emit('SIGUSR2');
    expect(notices.at(-1)).toBe('paused (SIGUSR2): the running cycle finishes, no new cycle starts; SIGUSR2 resumes');
    signals.emit('SIGUSR2');
    expect(notices.at(-1)).toBe('resumed (SIGUSR2)');
    set({ status: 'breaker_open' });
    signals.emit('SIGUSR2');
    expect(notices.at(-1)).toBe('circuit breaker closed, resumed (SIGUSR2)');
    expect(calls).toEqual(['pause', 'resume', 'resume']);
  });

  it('SIGUSR1 checkpoints and tells where (or why not)', async () => {
    const { calls, notices, signals, settle } = setup();
    signals.emit('SIGUSR1');
    expect(calls).toEqual(['checkpoint']);
    expect(notices.at(-1)).toBe('checkpoint requested (SIGUSR1): written at the next cycle boundary');
    settle().resolve('data/checkpoints/x.json');
    await tick();
    expect(notices.at(-1)).toBe('checkpoint written: data/checkpoints/x.json');
    signals.emit('SIGUSR1');
    settle().resolve(null);
    await tick();
    expect(notices.at(-1)).toBe('no checkpoint written: checkpoints are not available for this run');
    signals.emit('SIGUSR1');
    settle().reject(new Error('disk full'));
    await tick();
    expect(notices.at(-1)).toBe('checkpoint failed: disk full');
  });

  it('SIGTERM stops gracefully with 143; a second stop asks for a forced exit', () => {
    const { calls, notices, signals, controls, forceExit } = setup();
    expect(controls.requestedExitCode()).toBeNull();
    expect(controls.statusOverride()).toBeNull();
    signals.emit('SIGTERM');
    expect(calls).toEqual(['stop']);
    expect(controls.requestedExitCode()).toBe(143);
    expect(controls.statusOverride()).toBe('STOPPING');
    expect(notices.at(-1)).toBe('SIGTERM: finishing the running cycle, writing a final checkpoint, then exiting (SIGTERM again forces the exit)');
    expect(forceExit).not.toHaveBeenCalled();
    signals.emit('SIGINT');
    expect(forceExit).toHaveBeenCalledWith(130, 'SIGINT again: exiting now without a final checkpoint');
    expect(calls).toEqual(['stop']);
    expect(controls.requestedExitCode()).toBe(143);
  });

  it('SIGINT first: 130', () => {
    const { signals, controls } = setup();
    signals.emit('SIGINT');
    expect(controls.requestedExitCode()).toBe(130);
  });

  it('close removes every handler; no SIGUSR handlers where there are no such signals', () => {
    const { signals, controls } = setup();
    expect(signals.eventNames().sort()).toEqual(['SIGINT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2']);
    controls.close();
    expect(signals.eventNames()).toEqual([]);
    const windows = setup({ userSignals: false });
    expect(windows.signals.eventNames().sort()).toEqual(['SIGINT', 'SIGTERM']);
  });
});

describe('controls: keys', () => {
  it('p r c s, upper or lower case, several in one chunk', async () => {
    const { calls, notices, controls, settle } = setup({ keys: true });
    controls.keys('p');
    expect(notices.at(-1)).toBe('paused (p): the running cycle finishes, no new cycle starts; r resumes');
    controls.keys('P');
    expect(calls).toEqual(['pause']); // already paused
    controls.keys('R');
    expect(notices.at(-1)).toBe('resumed (r)');
    controls.keys('r');
    expect(calls).toEqual(['pause', 'resume']); // not paused
    controls.keys('c');
    settle().resolve('data/checkpoints/c.json');
    await tick();
    expect(notices.at(-1)).toBe('checkpoint written: data/checkpoints/c.json');
    controls.keys('s');
    expect(notices.at(-1)).toMatch(/^stats status=running cycles=7\/24 .* rss_mb=212 /);
    controls.keys('xpS');
    expect(calls.at(-1)).toBe('pause');
    expect(notices.at(-1)).toMatch(/^stats status=paused /);
  });

  it('q quits with 0 (QUITTING) and a second q does nothing; Ctrl-C after q forces the exit', () => {
    const { calls, controls, forceExit } = setup({ keys: true });
    controls.keys('q');
    expect(controls.requestedExitCode()).toBe(0);
    expect(controls.statusOverride()).toBe('QUITTING');
    controls.keys('q');
    expect(calls).toEqual(['stop']);
    expect(forceExit).not.toHaveBeenCalled();
    controls.keys('\u0003');
    expect(forceExit).toHaveBeenCalledWith(130, 'Ctrl-C again: exiting now without a final checkpoint');
  });

  it('Ctrl-C stops with 130; a second one forces the exit', () => {
    const { calls, controls, forceExit } = setup({ keys: true });
    controls.keys('\u0003');
    expect(calls).toEqual(['stop']);
    expect(controls.requestedExitCode()).toBe(130);
    controls.keys('\u0003');
    expect(forceExit).toHaveBeenCalledWith(130, 'Ctrl-C again: exiting now without a final checkpoint');
  });

  it('does not pause a stopping run', () => {
    const { calls, controls } = setup({ keys: true, initial: { status: 'stopping' } });
    controls.keys('p');
    expect(calls).toEqual([]);
  });
});
