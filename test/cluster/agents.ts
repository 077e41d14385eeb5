/**
 * Helpers of the cluster suite: pyarrow 11 clients as long-lived subprocesses (plasma_agent.py),
 * object ids, and reading a process's memory mappings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PeerAccess } from '../../src/cluster/peer-auth.js';
import type { StatusReply } from '../../src/cluster/peer-service.js';
import { queryStatus } from '../../src/cluster/status-client.js';
import type { Launcher } from '../helpers/launch.js';
import { onCleanup, repoRoot } from '../helpers/processes.js';

export const python = path.join(repoRoot, '.venv/bin/python');
const agentScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'plasma_agent.py');

export interface AgentReply {
  ok: boolean;
  error?: string;
  message?: string;
  [field: string]: unknown;
}

/** One pyarrow client connected to one store; commands run one at a time, in order. */
export class PyAgent {
  private buffer = '';
  private readonly waiting: ((reply: AgentReply) => void)[] = [];
  private stderr = '';
  private readonly exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly socketPath: string,
    /** The Python process (not a wrapper's, when started in a test host). */
    private readonly programPid = child.pid!,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      this.buffer += text;
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        this.waiting.shift()?.(JSON.parse(line) as AgentReply);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => {
      for (const waiter of this.waiting.splice(0)) {
        waiter({ ok: false, error: 'AgentExited', message: `pyarrow agent exited: ${this.stderr.slice(-2000)}` });
      }
    });
  }

  get pid(): number {
    return this.programPid;
  }

  /** Start an agent here, or elsewhere with `launch` (in a test host: test/helpers/hosts.ts). */
  static async start(socketPath: string, launch?: Launcher): Promise<PyAgent> {
    const { child, pid } = launch
      ? await launch(python, [agentScript, socketPath])
      : { child: spawn(python, [agentScript, socketPath], { stdio: ['pipe', 'pipe', 'pipe'] }), pid: undefined };
    const agent = new PyAgent(child, socketPath, pid);
    onCleanup(() => agent.kill('SIGKILL'));
    const ready = await new Promise<AgentReply>((resolve) => agent.waiting.push(resolve));
    if (!ready.ok) throw new Error(`pyarrow agent on ${socketPath} did not start: ${ready.message}`);
    return agent;
  }

  /** Send a command; resolves with the reply (errors are replies with ok: false). */
  call(op: string, args: Record<string, unknown> = {}): Promise<AgentReply> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin!.write(`${JSON.stringify({ op, ...args })}\n`);
    });
  }

  /** Like call, but throws unless the command succeeded. */
  async must(op: string, args: Record<string, unknown> = {}): Promise<AgentReply> {
    const reply = await this.call(op, args);
    if (!reply.ok) throw new Error(`${op} ${JSON.stringify(args)} failed: ${reply.error}: ${reply.message}`);
    return reply;
  }

  /** The process's current mappings. */
  maps(): string {
    return fs.readFileSync(`/proc/${this.pid}/maps`, 'utf8');
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(this.pid, signal);
    await this.exited;
  }
}

/** A fresh random 20-byte object id, as hex. */
export function newId(): string {
  return randomBytes(20).toString('hex');
}

/** Address ranges ([start, end)) at which /proc/PID/maps text maps `file`. */
export function mappingsOf(maps: string, file: string): { start: bigint; end: bigint }[] {
  const ranges: { start: bigint; end: bigint }[] = [];
  for (const line of maps.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 6) continue;
    const mapped = fields.slice(5).join(' ').replace(/ \(deleted\)$/, '');
    if (mapped !== file) continue;
    const [start, end] = fields[0]!.split('-').map((hex) => BigInt(`0x${hex}`));
    ranges.push({ start: start!, end: end! });
  }
  return ranges;
}

/** Poll `check` every 25 ms until it returns true or `ms` pass; returns whether it became true. */
export async function eventually(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Every node of the cluster reports every peer connected (event streams up, transports chosen). */
export async function waitConnected(
  cluster: { nodes: readonly { address: string }[]; access: PeerAccess },
  ms = 10_000,
): Promise<StatusReply[]> {
  let replies: StatusReply[] = [];
  const ok = await eventually(async () => {
    try {
      replies = await Promise.all(cluster.nodes.map((node) => nodeStatus(node.address, cluster.access)));
    } catch {
      return false;
    }
    return replies.every((reply) => reply.peers.length === cluster.nodes.length - 1 && reply.peers.every((peer) => peer.connected));
  }, ms);
  if (!ok) throw new Error(`cluster did not connect within ${ms} ms: ${JSON.stringify(replies)}`);
  return replies;
}

/** A node's Status over gRPC (what `cluster status` prints). */
export function nodeStatus(address: string, access: PeerAccess): Promise<StatusReply> {
  return queryStatus(address, access);
}
