/**
 * A stranger at a store's cluster port: another local user (any uid) calling every gRPC method
 * with plain HTTP/2 and Node's built-ins only, with a given secret or none.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './processes.js';

const run = promisify(execFile);

export const PEER_METHODS = ['Hello', 'Lookup', 'Renew', 'Unpin', 'Claim', 'Unclaim', 'Events', 'Fetch', 'Status'] as const;

export interface ProbeResult {
  uid: number;
  /** Per method: the grpc-status it ended with, and the response bytes it got. */
  results: Record<string, { status: number | null; bytes: number }>;
}

const PROBE = `import http2 from 'node:http2';
const [address, secret, methods] = [process.argv[2], process.argv[3], process.argv[4].split(',')];
const session = http2.connect('http://' + address);
const results = {};
for (const method of methods) {
  results[method] = await new Promise((resolve) => {
    const headers = { ':method': 'POST', ':path': '/plasmapool.cluster.v1.Peer/' + method, 'content-type': 'application/grpc', te: 'trailers' };
    if (secret) headers['pp-cluster-secret'] = secret;
    const call = session.request(headers);
    let status = null;
    let bytes = 0;
    const timer = setTimeout(() => call.close(), 5000);
    call.on('response', (h) => { if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']); });
    call.on('trailers', (t) => { status = Number(t['grpc-status']); });
    call.on('data', (chunk) => { bytes += chunk.length; });
    call.on('close', () => { clearTimeout(timer); resolve({ status, bytes }); });
    call.end(Buffer.from([0, 0, 0, 0, 0]));
  });
}
session.close();
console.log(JSON.stringify({ uid: process.getuid(), results }));
`;

/** Run the probe as `uid` (from a directory that user can read: the checkout may be 0700). */
export async function probePeerPort(address: string, secret: string, uid: number): Promise<ProbeResult> {
  const dir = tempDir();
  fs.chmodSync(dir, 0o755);
  const probe = path.join(dir, 'probe.mjs');
  fs.writeFileSync(probe, PROBE);
  fs.chmodSync(probe, 0o644);
  const { stdout } = await run(process.execPath, [probe, address, secret, PEER_METHODS.join(',')], { uid, gid: uid } as never);
  return JSON.parse(String(stdout)) as ProbeResult;
}
