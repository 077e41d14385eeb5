/**
 * The test's hand inside the host network: a Node process in the switch namespace (address
 * SWITCH_ADDRESS, on the bridge, never cut) that asks stores for their Status over the same TLS-
 * and secret-aware client as `cluster status`, and asks etcd through its JSON gateway.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { StatusReply } from '../../src/cluster/peer-service.js';
import type { TlsFiles } from '../../src/cluster/peer-auth.js';
import type { Hosts } from './hosts.js';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface StoreAccess {
  secretFile?: string;
  tls?: TlsFiles;
}

export class HostsControl {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: { ok: boolean; result?: unknown; message?: string }) => void>();
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    let buffer = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      buffer += text;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const reply = JSON.parse(buffer.slice(0, newline)) as { id: number; ok: boolean; result?: unknown; message?: string };
        buffer = buffer.slice(newline + 1);
        const resolve = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        resolve?.(reply);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-8192)));
    child.once('exit', () => {
      for (const resolve of this.waiting.values()) resolve({ ok: false, message: `control agent exited: ${this.stderr}` });
      this.waiting.clear();
    });
  }

  static async start(hosts: Hosts): Promise<HostsControl> {
    const agent = path.join(repoRoot, 'test/helpers/hosts-control-agent.ts');
    const child = spawn('ip', ['netns', 'exec', hosts.switchNs, process.execPath, '--import', 'tsx', agent], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const control = new HostsControl(child);
    hosts.onDestroy(() => control.close());
    const ready = await new Promise<{ ok: boolean; message?: string }>((resolve) => control.waiting.set(0, resolve));
    if (!ready.ok) throw new Error(`control agent did not start: ${ready.message}`);
    return control;
  }

  private call<T>(command: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, (reply) => (reply.ok ? resolve(reply.result as T) : reject(new Error(reply.message))));
      this.child.stdin!.write(`${JSON.stringify({ id, ...command })}\n`);
    });
  }

  /** A store's Status (what `cluster status` prints); rejects when it cannot be reached in time. */
  status(address: string, access: StoreAccess, timeoutMs = 2000): Promise<StatusReply> {
    return this.call({ op: 'status', address, ...access, timeoutMs });
  }

  /** A call of etcd's JSON gateway (POST path with body). */
  etcd<T = unknown>(url: string, apiPath: string, body: unknown = {}, timeoutMs = 2000): Promise<T> {
    return this.call({ op: 'etcd', url, path: apiPath, body, timeoutMs });
  }

  close(): void {
    this.child.stdin!.end();
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
