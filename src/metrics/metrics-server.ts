/**
 * `--metrics HOST:PORT`: serve a registry in the Prometheus text format at /metrics. Plain HTTP
 * only on a loopback address unless TLS is configured or the operator says --insecure, the same
 * rule as for the gRPC port.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { PlasmapoolError } from '../errors.js';

export interface MetricsServerOptions {
  /** HOST:PORT (port 0 picks a free one). */
  address: string;
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { cert: string; key: string };
  /** Allow plain HTTP on a non-loopback address. */
  insecure?: boolean;
}

export interface MetricsServer {
  /** The address actually bound, HOST:PORT. */
  readonly address: string;
  readonly url: string;
  close(): Promise<void>;
}

export class MetricsAddressError extends PlasmapoolError {
  override name = 'MetricsAddressError';
  override readonly code: string = 'METRICS_ADDRESS';
}

export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new MetricsAddressError(`${what} must be HOST:PORT (for example 127.0.0.1:9464), got "${text}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startMetricsServer(registry: Registry, options: MetricsServerOptions): Promise<MetricsServer> {
  const { host, port } = parseHostPort(options.address, '--metrics');
  if (!isLoopback(host) && !options.tls && !options.insecure) {
    throw new MetricsAddressError(
      `--metrics ${options.address} is not a loopback address: metrics would be served in plain text to the network; use 127.0.0.1, give --tls-cert/--tls-key, or pass --insecure`,
    );
  }
  const handler: http.RequestListener = (request, response) => {
    const url = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || (url !== '/metrics' && url !== '/')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
    );
  };
  const server = options.tls
    ? https.createServer({ cert: fs.readFileSync(options.tls.cert), key: fs.readFileSync(options.tls.key) }, handler)
    : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new MetricsAddressError(`cannot serve metrics on ${options.address}: ${error.message}`)));
    server.listen(port, host, () => resolve());
  });
  // Scrapes must not keep a stopping store alive.
  server.unref();
  const bound = server.address() as AddressInfo;
  const address = `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  return {
    address,
    url: `${options.tls ? 'https' : 'http'}://${address}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
