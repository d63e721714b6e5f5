/** `shopsim replay --inspect`: a restored run streams its machines to the Stately inspector. */
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { replay } from '../../src/cli/replay.ts';
import { scratchDir, shopsim } from './helpers.ts';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('replay --inspect', () => {
  it('streams the restored orchestrator and a sampled shopper to a WebSocket viewer', async () => {
    const dir = scratchDir('shopsim-replay-inspect-');
    const run = await shopsim(['run', '--agents', '30', '--cycles', '8', '--fast', '--mock-api', '--mock-db', '--checkpoint-interval', '4', '--checkpoint-dir', dir, '--json']);
    expect(run.code).toBe(0);
    const file = join(dir, readdirSync(dir).filter((f) => f.endsWith('_cycle_000004.json'))[0] as string);
    const port = await freePort();
    const messages: { type: string; name?: string; sessionId?: string }[] = [];
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const errors: string[] = [];
    const done = replay(file, { inspect: port, inspectAgents: 'agent_000002', holdInspector: hold }, { stdout: { write: () => true }, stderr: { write: (s: string) => (errors.push(s), true) } });
    // The relay keeps the last messages for late viewers: connect once it listens.
    let viewer: WebSocket | null = null;
    for (let i = 0; i < 100 && !viewer; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`);
      try {
        await new Promise((r, j) => ws.once('open', r).once('error', j));
        viewer = ws;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(viewer).not.toBeNull();
    viewer!.on('message', (d) => messages.push(JSON.parse(String(d))));
    await new Promise((r) => setTimeout(r, 1500));
    release();
    const result = await done;
    viewer!.close();
    expect(errors.join('')).toMatch(/Stately inspector: open http:\/\/127\.0\.0\.1:\d+\//);
    expect(result.to_cycle).toBe(8);
    expect(result.digest).toBe(JSON.parse(run.stdout).digest);
    const sessions = new Set(messages.map((m) => m.sessionId));
    expect(messages.length).toBeGreaterThan(0);
    expect(sessions.size).toBeGreaterThan(1);
    // The orchestrator's cycle events are streamed …
    expect(messages.some((m) => m.type === '@xstate.event' && (m as { event?: { type?: string } }).event?.type === 'NEXT_CYCLE')).toBe(true);
    // … and of the 30 shoppers only the sampled one is announced.
    const announced = messages.filter((m) => m.type === '@xstate.actor').map((m) => m.name ?? '');
    expect(announced.filter((n) => n.startsWith('agent_')).every((n) => n === 'agent_000002')).toBe(true);
  });
});
