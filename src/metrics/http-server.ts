// Serves the registry at /metrics (loopback by default: metrics reveal attack volume).
import http from 'node:http';
import { UserError } from '../errors.js';
import type { Metrics } from './registry.js';

export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(spec.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UserError(`metrics address "${spec}" is not HOST:PORT (e.g. 127.0.0.1:9464)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export class MetricsServer {
  private server?: http.Server;

  constructor(private readonly metrics: Metrics) {}

  async start(spec: string): Promise<{ host: string; port: number }> {
    const { host, port } = parseListen(spec);
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('logban: try /metrics\n');
        return;
      }
      this.metrics.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500).end(String(err.message)),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new UserError(`cannot serve metrics on ${spec}: ${err.code ?? err.message}`)));
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const addr = server.address();
    return { host, port: typeof addr === 'object' && addr ? addr.port : port };
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
