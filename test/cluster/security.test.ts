// Cluster security: TLS with client certificates of a cluster CA covers gRPC, the peer channel
// and the copy transport's data connections; a non-loopback listen needs TLS or --insecure.
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cliPath, startTestCluster, tempDir } from '../helpers/processes.js';
import { PyAgent, newId, waitConnected } from './agents.js';
import { probePeerPort } from '../helpers/peer-probe.js';
import * as grpc from '@grpc/grpc-js';
import { peerService } from '../../src/cluster/peer-service.js';
import { newPeerClient } from '../../src/cluster/peer-auth.js';
import fs from 'node:fs';

const run = promisify(execFile);

/** A cluster CA and one certificate (127.0.0.1, server and client use) signed by it. */
async function clusterCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const file = (name: string) => path.join(dir, name);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=plasmapool test CA', '-keyout', file('ca.key'), '-out', file('ca.pem')]);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=node', '-keyout', file('node.key'), '-out', file('node.csr')]);
  fs.writeFileSync(file('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  await run('openssl', ['x509', '-req', '-in', file('node.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', file('ext.cnf'), '-out', file('node.pem')]);
  return { ca: file('ca.pem'), cert: file('node.pem'), key: file('node.key') };
}

describe('cluster: security', () => {
  it('11. a TLS cluster works end to end (shared and copy), and refuses callers without a certificate', async () => {
    const tls = await clusterCertificates(tempDir());
    const tlsArgs = ['--tls-ca', tls.ca, '--tls-cert', tls.cert, '--tls-key', tls.key];
    for (const transport of ['shared', 'copy'] as const) {
      const cluster = await startTestCluster({ nodes: 2, transport, extraArgs: tlsArgs });
      const [a, b] = cluster.nodes;
      // Status is a gRPC call too: without a certificate it is refused.
      const { Client } = peerService();
      const anonymous = new Client(a!.address, grpc.credentials.createSsl(fs.readFileSync(tls.ca)));
      const refused = await new Promise<grpc.ServiceError | null>((resolve) =>
        anonymous.status({}, { deadline: Date.now() + 2000 }, (error) => resolve(error)),
      );
      anonymous.close();
      expect(refused).not.toBeNull();

      const secured = newPeerClient(a!.address, cluster.access);
      const connected = await (async () => {
        for (let i = 0; i < 100; i++) {
          const reply = await new Promise<{ peers: { connected: boolean; transport: string }[] } | null>((resolve) =>
            secured.status({}, { deadline: Date.now() + 2000 }, (error, status) => resolve(error ? null : status)),
          );
          if (reply?.peers.every((p) => p.connected)) return reply;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return null;
      })();
      secured.close();
      expect(connected?.peers.map((p) => p.transport)).toEqual([transport]);

      const [onA, onB] = await Promise.all([PyAgent.start(a!.socketPath), PyAgent.start(b!.socketPath)]);
      for (const size of [1000, 3 << 20]) {
        const id = newId();
        const put = await onA.must('put', { id, size });
        const got = await onB.must('get', { id, timeout_ms: 5000, hold: false });
        expect(got.sha256, `${transport}, ${size} bytes`).toBe(put.sha256);
      }
      await cluster.close();
    }
  });

  it('12. a store refuses a non-loopback gRPC listen address without TLS or --insecure', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, [cliPath, 'store', '-s', path.join(dir, 's.sock'), '-m', '16MiB', '--node-name', 'x', '--listen', '0.0.0.0:0', '--peer', 'y=127.0.0.1:1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/without TLS.*--insecure/);
  });

  it('13. another local user reaches no cluster call without the secret: not Hello, Fetch, Lookup, Renew or Status', async () => {
    const cluster = await startTestCluster({ nodes: 2 });
    await waitConnected(cluster);
    const [a] = cluster.nodes;
    for (const secret of ['', 'a guessed secret of the right kind']) {
      const { uid, results } = await probePeerPort(a!.address, secret, 65534);
      expect(uid).toBe(65534);
      for (const [method, result] of Object.entries(results)) {
        expect(result, `${method} with ${secret ? 'a wrong' : 'no'} secret`).toEqual({ status: grpc.status.UNAUTHENTICATED, bytes: 0 });
      }
    }
    // With the cluster's secret the same call works: the refusal is about the secret alone.
    const client = newPeerClient(a!.address, cluster.access);
    const ok = await new Promise<boolean>((resolve) => client.status({}, { deadline: Date.now() + 2000 }, (error) => resolve(!error)));
    client.close();
    expect(ok).toBe(true);
    // The secret file is the owner's alone.
    const secretFile = path.join(path.dirname(cluster.clusterFile), 'cluster.secret');
    expect(fs.statSync(secretFile).mode & 0o777).toBe(0o600);
  });

  it('14. a cluster store without TLS refuses to start without a cluster secret', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, [cliPath, 'store', '-s', path.join(dir, 's.sock'), '-m', '16MiB', '--node-name', 'x', '--listen', '127.0.0.1:0', '--peer', 'y=127.0.0.1:1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/needs authentication.*--secret-file/);
  });
});
