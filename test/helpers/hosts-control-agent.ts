/**
 * The control agent of test hosts (hosts-control.ts): runs in the switch namespace, which reaches
 * every host, and answers one JSON command per stdin line with one JSON line. It ends when its
 * stdin closes (the test process is gone).
 */
import readline from 'node:readline';
import { readSecretFile, type PeerAccess } from '../../src/cluster/peer-auth.js';
import { queryStatus } from '../../src/cluster/status-client.js';

interface Command {
  op: 'status' | 'etcd';
  address?: string;
  secretFile?: string;
  tls?: { ca: string; cert: string; key: string };
  timeoutMs?: number;
  /** etcd: the JSON gateway's path (/v3/kv/range, /v3/lease/leases …) and body. */
  url?: string;
  path?: string;
  body?: unknown;
}

async function handle(command: Command): Promise<unknown> {
  if (command.op === 'status') {
    const access: PeerAccess = { secret: command.secretFile ? readSecretFile(command.secretFile) : undefined, tls: command.tls };
    return queryStatus(command.address!, access, undefined, command.timeoutMs ?? 2000);
  }
  if (command.op === 'etcd') {
    const response = await fetch(`${command.url}${command.path}`, {
      method: 'POST',
      body: JSON.stringify(command.body ?? {}),
      signal: AbortSignal.timeout(command.timeoutMs ?? 2000),
    });
    return response.json();
  }
  throw new Error(`unknown op ${String(command.op)}`);
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const { id, ...command } = JSON.parse(line) as Command & { id: number };
  handle(command).then(
    (result) => process.stdout.write(`${JSON.stringify({ id, ok: true, result })}\n`),
    (error: Error) => process.stdout.write(`${JSON.stringify({ id, ok: false, message: error.message })}\n`),
  );
});
lines.on('close', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ id: 0, ok: true, result: 'ready' })}\n`);
