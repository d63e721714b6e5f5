import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { afterBanner, scratchDir, shopsim } from './helpers.ts';

describe('run --inspect on a taken port', () => {
  it('is one line naming the port, exit 2 (no stack trace)', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as AddressInfo).port;
    try {
      const tmp = scratchDir('shopsim-inspect-port-');
      const r = await shopsim(['run', '--mock-api', '--mock-db', '--fast', '-a', '20', '-c', '2', '--checkpoint-dir', join(tmp, 'cp'), '--inspect', String(port)]);
      expect(r.code).toBe(2);
      expect(afterBanner(r.stderr)).toEqual([`shopsim: --inspect ${port}: cannot listen on 127.0.0.1:${port} (EADDRINUSE); choose another port`]);
    } finally {
      holder.close();
    }
  });
});
