/**
 * A loopback-only Stately inspector relay. @statelyai/inspect's createInspectorServer (0.7.2)
 * listens on every interface (`httpServer.listen(port)` with no host) and has no option to
 * change it, so this is the same small relay bound to 127.0.0.1: the HTTP page embeds the
 * Stately inspector web app (https://stately.ai/inspect) and bridges it to a WebSocket; every
 * message a client sends is relayed to the other clients, and the last 200 are replayed to a
 * late viewer. Requests whose Host header is not loopback are refused (DNS rebinding).
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
  /** Messages kept for viewers who connect late. */
  bufferSize?: number;
}

export interface InspectorServer {
  port: number;
  host: string;
  /** The page a user opens. */
  pageUrl: string;
  /** Where the actors' inspector connects. */
  wsUrl: string;
  close(): Promise<void>;
}

function bridgeHtml(wsUrl: string, inspectorUrl: string): string {
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
    const buffer = [];
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
      else buffer.push(data);
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
  const bufferSize = options.bufferSize ?? 200;
  let port = options.port;
  const httpServer = http.createServer((req, res) => {
    if (!loopbackHost(req.headers.host, port)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' });
      res.end('forbidden: open the inspector through 127.0.0.1 or localhost\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(bridgeHtml(`ws://${host}:${port}`, inspectorUrl));
  });
  const wss = new WebSocketServer({ server: httpServer, verifyClient: (info: { req: http.IncomingMessage }) => loopbackHost(info.req.headers.host, port) });
  // The WebSocket server re-emits the HTTP server's errors (a taken port): that one is answered
  // below as one line, exit 2, and must not also be an unhandled 'error' event.
  wss.on('error', () => {});
  const buffer: string[] = [];
  wss.on('connection', (ws) => {
    for (const msg of buffer) ws.send(msg);
    ws.on('message', (data) => {
      const msg = data.toString();
      buffer.push(msg);
      if (buffer.length > bufferSize) buffer.shift();
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
    close() {
      for (const c of wss.clients) c.terminate();
      return new Promise<void>((resolve) => {
        wss.close(() => httpServer.close(() => resolve()));
        httpServer.closeAllConnections?.();
      });
    },
  };
}
