// `--metrics HOST:PORT`: a real HTTP scrape of a real store, whose numbers follow the workload.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ObjectId } from '../../src/protocol/object-id.js';
import { connectClient, storeWithClient } from '../client/support.js';
import { startStoreProcess, startTestCluster, tempDir } from '../helpers/processes.js';
import { parsePrometheusText, scrape, valueOf, type Sample } from './prom-text.js';

const sum = (samples: Sample[], name: string) => samples.filter((s) => s.name === name).reduce((total, s) => total + s.value, 0);
import { runCli } from './run-cli.js';

function metricsUrlOf(stdout: string): string {
  const url = /metrics (http:\/\/\S+\/metrics)/.exec(stdout)?.[1];
  if (!url) throw new Error(`no metrics URL in the ready line: ${stdout}`);
  return url;
}

describe('metrics: Prometheus endpoint', () => {
  it('1. conventional names and types; capacity, used, objects, clients, requests and latency move with the workload', async () => {
    const { store, client } = await storeWithClient('64MiB', ['--metrics', '127.0.0.1:0']);
    const url = metricsUrlOf(store.stdout());
    const response = await fetch(url);
    const { samples: before, types } = parsePrometheusText(await response.text());
    expect(types.get('plasmapool_requests_total')).toBe('counter');
    expect(types.get('plasmapool_request_duration_seconds')).toBe('histogram');
    expect(types.get('plasmapool_used_bytes')).toBe('gauge');
    expect(types.get('plasmapool_evictions_total')).toBe('counter');
    expect(valueOf(before, 'plasmapool_capacity_bytes')).toBe(64 * 1024 * 1024);
    expect(valueOf(before, 'plasmapool_clients')).toBe(1);
    const usedBefore = valueOf(before, 'plasmapool_used_bytes')!;

    const n = 20;
    for (let i = 0; i < n; i++) await client.createAndSeal(ObjectId.fromName(`metrics/${i}`), new Uint8Array(10_000));
    for (let i = 0; i < 5; i++) (await client.getOne(ObjectId.fromName(`metrics/${i}`)))!.release();
    const after = await scrape(url);
    expect(valueOf(after, 'plasmapool_used_bytes')! - usedBefore).toBe(n * 10_000);
    expect(valueOf(after, 'plasmapool_objects', { state: 'sealed' })).toBe(n);
    // Requests: those the native data plane answers are counted in one total, the others by type
    // in TypeScript, each with its handling time.
    const requests = (samples: Sample[]) =>
      sum(samples, 'plasmapool_requests_total') + (valueOf(samples, 'plasmapool_native_requests_total') ?? 0);
    expect(requests(after) - requests(before)).toBeGreaterThanOrEqual(n + 5);
    expect(sum(after, 'plasmapool_request_duration_seconds_count')).toBe(sum(after, 'plasmapool_requests_total'));
    expect(valueOf(after, 'plasmapool_requests_total', { type: 'connect' })).toBeGreaterThanOrEqual(1);

    // Eviction: counts and bytes.
    await client.evict(35_000);
    const evicted = await scrape(url);
    expect(valueOf(evicted, 'plasmapool_evictions_total')).toBe(4);
    expect(valueOf(evicted, 'plasmapool_evicted_bytes_total')).toBe(40_000);
    expect(valueOf(evicted, 'plasmapool_objects', { state: 'sealed' })).toBe(n - 4);
    expect(valueOf(evicted, 'plasmapool_spills_total')).toBe(0);
    expect(valueOf(evicted, 'process_cpu_seconds_total')).toBeGreaterThan(0);

    client.close();
    const second = await connectClient(store.socketPath);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(valueOf(await scrape(url), 'plasmapool_clients')).toBe(1);
    second.close();
  });

  it('2. spills are counted with their bytes', async () => {
    const spillDir = tempDir('pp-spill-');
    const { store, client } = await storeWithClient('64MiB', ['--metrics', '127.0.0.1:0', '-e', `file://${spillDir}`]);
    const url = metricsUrlOf(store.stdout());
    for (let i = 0; i < 3; i++) await client.createAndSeal(ObjectId.fromName(`spill/${i}`), new Uint8Array(2048));
    await client.evict(6144);
    const samples = await scrape(url);
    expect(valueOf(samples, 'plasmapool_spills_total')).toBe(3);
    expect(valueOf(samples, 'plasmapool_spilled_bytes_total')).toBe(6144);
    expect(valueOf(samples, 'plasmapool_objects', { state: 'evicted' })).toBe(3);
  });

  it('3. loopback only unless TLS or --insecure', async () => {
    const result = await runCli(['store', '-s', `${tempDir()}/s.sock`, '-m', '16MiB', '--metrics', '0.0.0.0:0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--metrics 0\.0\.0\.0:0 is not a loopback address.*--insecure/);
    const open = await startStoreProcess('16MiB', ['--metrics', '0.0.0.0:0', '--insecure']);
    const port = /metrics http:\/\/0\.0\.0\.0:(\d+)\/metrics/.exec(open.stdout())![1];
    expect(valueOf(await scrape(`http://127.0.0.1:${port}/metrics`), 'plasmapool_capacity_bytes')).toBe(16 * 1024 * 1024);
    const bad = await runCli(['store', '-s', `${tempDir()}/s.sock`, '-m', '16MiB', '--metrics', 'nonsense']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--metrics must be HOST:PORT/);
  });

  it('4. a cluster: remote gets by transport and peers up, each node on its own endpoint', async () => {
    const cluster = await startTestCluster({ nodes: 2, transport: 'shared', nodeArgs: () => ['--metrics', '127.0.0.1:0'] });
    const urls = cluster.nodes.map((node) => metricsUrlOf(node.readyLine));
    const producer = await connectClient(cluster.nodes[0]!.socketPath);
    const consumer = await connectClient(cluster.nodes[1]!.socketPath);
    const id = ObjectId.fromName('metrics/remote');
    await producer.createAndSeal(id, new Uint8Array(4096));
    const got = await consumer.getOne(id, { timeoutMs: 5000 });
    expect(got?.dataSize).toBe(4096);
    got!.release();
    const at1 = await scrape(urls[1]!);
    expect(valueOf(at1, 'plasmapool_remote_gets_total', { transport: 'shared' })).toBe(1);
    expect(valueOf(at1, 'plasmapool_peers_up')).toBe(1);
    expect(valueOf(at1, 'plasmapool_peers')).toBe(1);
    expect(valueOf(at1, 'plasmapool_copy_transport_bytes_total')).toBe(0);
    expect(valueOf(at1, 'plasmapool_lease_expiries_total')).toBe(0);
    expect(valueOf(at1, 'plasmapool_claim_conflicts_total')).toBe(0);
    producer.close();
    consumer.close();
  });

  it('5. with --tls-cert/--tls-key the endpoint serves HTTPS and may bind beyond loopback', async () => {
    const dir = tempDir('pp-tls-');
    const file = (name: string) => path.join(dir, name);
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', file('key.pem'), '-out', file('cert.pem'),
    ]);
    const store = await startStoreProcess('16MiB', [
      '--metrics', '0.0.0.0:0', '--tls-ca', file('cert.pem'), '--tls-cert', file('cert.pem'), '--tls-key', file('key.pem'),
    ]);
    const port = /metrics https:\/\/0\.0\.0\.0:(\d+)\/metrics/.exec(store.stdout())?.[1];
    expect(port, store.stdout()).toBeTruthy();
    const text = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: Number(port), path: '/metrics', ca: fs.readFileSync(file('cert.pem')) }, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
    expect(valueOf(parsePrometheusText(text).samples, 'plasmapool_capacity_bytes')).toBe(16 * 1024 * 1024);
    // Plain HTTP gets no metrics from a TLS endpoint.
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });
});
