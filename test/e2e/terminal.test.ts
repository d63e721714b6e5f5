/**
 * End to end under a real pseudo-terminal (tmux): the dashboard, the keys p r c q, and the
 * exit code. Skipped, with a message, where tmux is not installed (CI: apt-get install tmux).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, DATA, scratchDir } from './helpers.ts';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux) console.warn('test/e2e/terminal.test.ts: SKIPPED: tmux is not installed (apt-get install -y tmux)');

const SOCKET = `shopsim-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', 'shopsim');
/** The screen plus what scrolled off it. */
const history = () => tmux('capture-pane', '-p', '-S', '-200', '-t', 'shopsim');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

async function until<T>(what: string, probe: () => T | null | undefined | false, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; screen:\n${screen()}`);
    await sleep(150);
  }
}

const cyclesShown = (text: string) => Number(text.match(/│ Cycles\s+│ (\d+) \/ \d+/)?.[1] ?? NaN);

afterAll(() => {
  if (hasTmux) spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
});

describe.skipIf(!hasTmux)('shopsim run in a terminal (tmux)', () => {
  it('shows the dashboard; p pauses (PAUSED, cycles stop), r resumes, c writes a checkpoint, q quits with exit 0', async () => {
    const cwd = scratchDir('shopsim-tty-');
    const exitFile = join(cwd, 'exit-code');
    const args = ['run', '--mock-api', '--mock-db', ...DATA, '--agents', '30', '--cycles', '300', '--time-scale', '3600', '--refresh', '0.3', '--checkpoint-interval', '0'];
    const cmd = `cd ${shq(cwd)} && ${shq(process.execPath)} ${shq(BIN)} ${args.map(shq).join(' ')}; echo $? > ${shq(exitFile)}; sleep 60`;
    tmux('new-session', '-d', '-s', 'shopsim', '-x', '80', '-y', '24', cmd);

    await until('the dashboard at cycle 2', () => screen().includes('RUNNING') && cyclesShown(screen()) >= 2);
    expect(screen()).toContain('keys: p pause  r resume  c checkpoint  s stats  q quit');
    for (const line of screen().split('\n')) expect([...line].length).toBeLessThanOrEqual(80);

    tmux('send-keys', '-t', 'shopsim', 'p');
    await until('PAUSED', () => screen().includes('PAUSED'));
    await sleep(1200); // a cycle in flight when p arrived finishes
    const paused = cyclesShown(screen());
    await sleep(2500);
    expect(cyclesShown(screen())).toBe(paused);

    tmux('send-keys', '-t', 'shopsim', 'r');
    await until('RUNNING again and a new cycle', () => screen().includes('RUNNING') && cyclesShown(screen()) > paused);

    tmux('send-keys', '-t', 'shopsim', 'c');
    await until('the checkpoint notice', () => screen().includes('checkpoint written: '));
    const dir = join(cwd, 'data/checkpoints');
    expect(readdirSync(dir).filter((f) => f.endsWith('.json')).length).toBeGreaterThanOrEqual(1);
    const manual = readdirSync(dir).length;

    tmux('send-keys', '-t', 'shopsim', 'q');
    const code = await until('the exit code', () => existsSync(exitFile) && readFileSync(exitFile, 'utf8').trim());
    expect(code).toBe('0');
    // Back on the main screen: the summary, and a final checkpoint.
    const after = history();
    expect(after).toMatch(/Run run-\S+: /);
    expect(after).toMatch(/Run run-\S+: stopped by the user/);
    expect(after).toMatch(/Checkpoint {2}\//);
    expect(readdirSync(dir).length).toBeGreaterThanOrEqual(manual);
  });
});
