/**
 * A loopback-only Stately inspector relay. @statelyai/inspect's createInspectorServer (0.7.2)
 * listens on every interface (`httpServer.listen(port)` with no host) and has no option to
 * change it, so this is the same small relay bound to 127.0.0.1: the HTTP page embeds the
 * Stately inspector web app (https://stately.ai/inspect) and bridges it to a WebSocket; every
 * message a client sends is relayed to the other clients. For a viewer who connects late the
 * relay keeps, per streamed actor (sessionId), its latest announcement (`@xstate.actor`, which
 * carries the machine definition) and its latest `@xstate.snapshot` — not the last N messages,
 * which a long run would push the announcements out of — and sends those on connect. Requests
 * whose Host header is not loopback are refused (DNS rebinding).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { ShopsimError } from '../errors.ts';

export interface InspectorServerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** The inspector web app embedded by the page. */
  inspectorUrl?: string;
  /** Actors whose latest announcement and snapshot are kept for late viewers (oldest dropped beyond). */
  maxActors?: number;
  /** Messages the page holds while the embedded inspector has not connected yet (oldest non-announcements dropped beyond). */
  pageBuffer?: number;
}

/** What the relay holds for late viewers. */
export interface RelayKept {
  actors: number;
  messages: number;
  bytes: number;
}

export interface InspectorServer {
  port: number;
  host: string;
  /** The page a user opens. */
  pageUrl: string;
  /** Where the actors' inspector connects. */
  wsUrl: string;
  /** What a viewer connecting now would be sent first. */
  kept(): RelayKept;
  close(): Promise<void>;
}

function bridgeHtml(wsUrl: string, inspectorUrl: string, pageBuffer: number): string {
  return `<!DOCTYPE html>
<html>
<head>
  <title>shopsim · Stately Inspector</title>
  <style>* { margin: 0; padding: 0; } html, body { height: 100%; } iframe { width: 100%; height: 100%; border: none; }</style>
</head>
<body>
  <iframe id="inspector" src="${inspectorUrl}"></iframe>
  <script>
    const iframe = document.getElementById('inspector');
    // Held until the inspector app says it is connected (it never does offline): bounded, the
    // oldest message that is not an actor announcement dropped first.
    const MAX = ${pageBuffer};
    const buffer = [];
    window.shopsimInspectorBuffer = buffer;
    let connected = false;
    window.addEventListener('message', (e) => {
      if (e.data && e.data.type === '@statelyai.connected') {
        connected = true;
        buffer.forEach((event) => iframe.contentWindow.postMessage(event, '*'));
        buffer.length = 0;
      }
    });
    const ws = new WebSocket(${JSON.stringify(wsUrl)});
    ws.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (connected) iframe.contentWindow.postMessage(data, '*');
      else {
        buffer.push(data);
        if (buffer.length > MAX) {
          const i = buffer.findIndex((m) => !m || m.type !== '@xstate.actor');
          buffer.splice(i >= 0 ? i : 0, 1);
        }
      }
    };
  </script>
</body>
</html>`;
}

function loopbackHost(hostHeader: string | undefined, port: number): boolean {
  if (!hostHeader) return true;
  return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(hostHeader.toLowerCase());
}

export async function createLoopbackInspectorServer(options: InspectorServerOptions): Promise<InspectorServer> {
  const host = options.host ?? '127.0.0.1';
  const inspectorUrl = options.inspectorUrl ?? 'https://stately.ai/inspect';
  const maxActors = options.maxActors ?? 10_000;
  const pageBuffer = options.pageBuffer ?? 2000;
  let port = options.port;
  const httpServer = http.createServer((req, res) => {
    if (!loopbackHost(req.headers.host, port)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' });
      res.end('forbidden: open the inspector through 127.0.0.1 or localhost\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(bridgeHtml(`ws://${host}:${port}`, inspectorUrl, pageBuffer));
  });
  const wss = new WebSocketServer({ server: httpServer, verifyClient: (info: { req: http.IncomingMessage }) => loopbackHost(info.req.headers.host, port) });
  // The WebSocket server re-emits the HTTP server's errors (a taken port): that one is answered
  // below as one line, exit 2, and must not also be an unhandled 'error' event.
  wss.on('error', () => {});
  // sessionId → its latest announcement and snapshot, in the order the actors were first seen.
  const latest = new Map<string, { actor: string | null; snapshot: string | null }>();
  const keep = (msg: string) => {
    let m: { type?: unknown; sessionId?: unknown };
    try {
      m = JSON.parse(msg) as typeof m;
    } catch {
      return;
    }
    if (typeof m.sessionId !== 'string' || (m.type !== '@xstate.actor' && m.type !== '@xstate.snapshot')) return;
    let entry = latest.get(m.sessionId);
    if (!entry) {
      latest.set(m.sessionId, (entry = { actor: null, snapshot: null }));
      if (latest.size > maxActors) latest.delete(latest.keys().next().value as string);
    }
    if (m.type === '@xstate.actor') entry.actor = msg;
    else entry.snapshot = msg;
  };
  const keptMessages = () => {
    const out: string[] = [];
    for (const e of latest.values()) {
      if (e.actor) out.push(e.actor);
      if (e.snapshot) out.push(e.snapshot);
    }
    return out;
  };
  wss.on('connection', (ws) => {
    for (const msg of keptMessages()) ws.send(msg);
    ws.on('message', (data) => {
      const msg = data.toString();
      keep(msg);
      for (const client of wss.clients) if (client !== ws && client.readyState === WebSocket.OPEN) client.send(msg);
    });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new ShopsimError('E_INPUT', `--inspect ${options.port}: cannot listen on ${host}:${options.port} (${err.code ?? err.message}); choose another port`, {
          cause: err,
          exitCode: 2,
        }),
      );
    });
    httpServer.listen(options.port, host, () => resolve());
  });
  port = (httpServer.address() as AddressInfo).port;
  return {
    port,
    host,
    pageUrl: `http://${host}:${port}/`,
    wsUrl: `ws://${host}:${port}`,
    kept() {
      const msgs = keptMessages();
      return { actors: latest.size, messages: msgs.length, bytes: msgs.reduce((a, m) => a + m.length, 0) };
    },
    close() {
      for (const c of wss.clients) c.terminate();
      return new Promise<void>((resolve) => {
        wss.close(() => httpServer.close(() => resolve()));
        httpServer.closeAllConnections?.();
      });
    },
  };
}
