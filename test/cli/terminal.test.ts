import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { openTerminal } from '../../src/cli/terminal.ts';

function sink(columns?: number, rows?: number) {
  const chunks: string[] = [];
  return { isTTY: true, columns, rows, write: (s: string) => (chunks.push(s), true), chunks };
}

function fakeStdin(isTTY = true) {
  const stdin = new EventEmitter() as EventEmitter & { isTTY: boolean; raw: boolean[]; encoding?: string; setRawMode(m: boolean): void; setEncoding(e: string): void; resume(): void; pause(): void; paused: boolean };
  stdin.isTTY = isTTY;
  stdin.raw = [];
  stdin.paused = true;
  stdin.setRawMode = (m) => void stdin.raw.push(m);
  stdin.setEncoding = (e) => void (stdin.encoding = e);
  stdin.resume = () => void (stdin.paused = false);
  stdin.pause = () => void (stdin.paused = true);
  return stdin;
}

const ALT_ON = '\u001b[?1049h';
const ALT_OFF = '\u001b[?1049l';
const HIDE = '\u001b[?25l';
const SHOW = '\u001b[?25h';

describe('openTerminal', () => {
  it('takes the alternate screen, hides the cursor, draws frames in place and gives it all back on close', () => {
    const stdout = sink(120);
    const stdin = fakeStdin();
    const hooks = new EventEmitter();
    const term = openTerminal({ stdout, stdin, exitHooks: hooks });
    expect(stdout.chunks).toEqual([`${ALT_ON}${HIDE}\u001b[2J`]);
    expect(term.keys).toBe(true);
    expect(term.columns()).toBe(120);
    term.draw('a\nb');
    expect(stdout.chunks.at(-1)).toBe('\u001b[Ha\u001b[K\nb\u001b[K\n\u001b[J');
    const typed: string[] = [];
    term.readKeys((t) => void typed.push(t));
    expect(stdin.raw).toEqual([true]);
    expect(stdin.encoding).toBe('utf8');
    expect(stdin.paused).toBe(false);
    stdin.emit('data', 'p');
    stdin.emit('data', Buffer.from('qr'));
    expect(typed).toEqual(['p', 'qr']);
    expect(hooks.listenerCount('exit')).toBe(1);
    term.close();
    expect(stdin.raw).toEqual([true, false]);
    expect(stdin.paused).toBe(true);
    expect(stdout.chunks.at(-1)).toBe(`${SHOW}${ALT_OFF}`);
    expect(hooks.eventNames()).toEqual([]);
    stdin.emit('data', 'p');
    expect(typed).toHaveLength(2);
    term.close();
    expect(stdout.chunks.filter((c) => c.includes(SHOW))).toHaveLength(1);
  });

  it('restores raw mode and the screen when the process exits or crashes, once', () => {
    for (const event of ['exit', 'uncaughtExceptionMonitor']) {
      const stdout = sink();
      const stdin = fakeStdin();
      const hooks = new EventEmitter();
      const term = openTerminal({ stdout, stdin, exitHooks: hooks });
      term.readKeys(() => {});
      hooks.emit(event, new Error('boom'));
      expect(stdin.raw, event).toEqual([true, false]);
      expect(stdout.chunks.at(-1), event).toBe(`${SHOW}${ALT_OFF}`);
      term.restore();
      term.close();
      expect(stdin.raw, event).toEqual([true, false]);
      expect(stdout.chunks.filter((c) => c.includes(SHOW)), event).toHaveLength(1);
    }
  });

  it('reads no keys without a TTY stdin, and can stay off the alternate screen', () => {
    const stdout = sink();
    const stdin = fakeStdin(false);
    const term = openTerminal({ stdout, stdin, alternateScreen: false, exitHooks: new EventEmitter() });
    expect(term.keys).toBe(false);
    expect(term.columns()).toBe(80);
    expect(term.rows()).toBe(24);
    expect(openTerminal({ stdout: sink(120, 40), exitHooks: new EventEmitter() }).rows()).toBe(40);
    term.readKeys(() => {});
    expect(stdin.raw).toEqual([]);
    expect(stdin.paused).toBe(true);
    expect(stdout.chunks[0]).toBe(`${HIDE}\u001b[2J`);
    term.close();
    expect(stdout.chunks.at(-1)).toBe(SHOW);
  });

  it('survives a terminal that is gone when raw mode is turned off', () => {
    const stdin = fakeStdin();
    stdin.setRawMode = (m) => {
      if (!m) throw new Error('EIO');
    };
    const term = openTerminal({ stdout: sink(), stdin, exitHooks: new EventEmitter() });
    term.readKeys(() => {});
    expect(() => term.close()).not.toThrow();
  });
});
