/**
 * A TCP proxy to put between shopsim and its database, with two kinds of outage:
 * - `reset(ms)`: every connection is destroyed and the port refuses new ones for `ms`, then it
 *   listens again on the same port (the server restarting, a failover);
 * - `silence(ms)`: connections stay open but every byte in either direction is dropped for `ms`,
 *   and new connections hang the same way (a network partition, a stalled server); afterwards
 *   bytes flow again, but the connections that lost bytes are desynchronised for good, as after
 *   a silent connection death.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** `upstream` with host and port replaced by the proxy's. */
  url: string;
  reset(ms: number): Promise<void>;
  silence(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(upstream: URL): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let silent = false;
  let server: Server;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((client) => {
        const up = connect(Number(upstream.port || 5432), upstream.hostname);
        sockets.add(client).add(up);
        client.on('data', (d) => void (silent || up.write(d)));
        up.on('data', (d) => void (silent || client.write(d)));
        const drop = () => {
          client.destroy();
          up.destroy();
          sockets.delete(client);
          sockets.delete(up);
        };
        client.on('error', drop).on('close', drop);
        up.on('error', drop).on('close', drop);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
  const port = await listen(0);
  const via = new URL(upstream.toString());
  via.hostname = '127.0.0.1';
  via.port = String(port);
  const closeServer = () => new Promise<void>((done) => server.close(() => done()));
  return {
    port,
    url: via.toString(),
    async reset(ms) {
      for (const s of sockets) s.destroy();
      sockets.clear();
      await closeServer();
      await new Promise((r) => setTimeout(r, ms));
      await listen(port);
    },
    async silence(ms) {
      silent = true;
      await new Promise((r) => setTimeout(r, ms));
      silent = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      sockets.clear();
      await closeServer().catch(() => {});
    },
  };
}
