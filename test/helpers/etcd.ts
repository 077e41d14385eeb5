/**
 * A real etcd (Debian's /usr/bin/etcd) for tests: its own ports and its own temporary data
 * directory, on loopback or inside a test host's namespaces (test/helpers/hosts.ts). It can be
 * stopped, killed, frozen (SIGSTOP) and restarted on the same data, and it is always removed:
 * after the test file (afterAll), when the test process exits, and, for an instance a killed
 * test process left behind, by the sweep at the next start.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/cluster/local-cluster.js';
import { launchHere, processAlive, removeWhenDone, type Launched, type Launcher } from './launch.js';

export const ETCD_BINARY = '/usr/bin/etcd';

export interface EtcdOptions {
  /** Address to listen on (default 127.0.0.1; a test host's address when `launch` runs in it). */
  host?: string;
  /** Client port (default: a free one on loopback, 2379 inside a host). */
  clientPort?: number;
  /** Peer port (default: a free one on loopback, 2380 inside a host). */
  peerPort?: number;
  /** Start inside a test host (Host.launch); default: on this machine. */
  launch?: Launcher;
  /** How long to wait for it to serve (default 20 s). */
  startTimeoutMs?: number;
}

/** Where data directories go; the owner's pid in the name lets the sweep find orphans. */
const DATA_PREFIX = `pph-etcd-`;

export class Etcd {
  private launched: Launched | null = null;
  private log = '';
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly host: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    private readonly launch: Launcher,
    private readonly startTimeoutMs: number,
  ) {}

  /** The client URL (what `--etcd` takes). */
  get url(): string {
    return `http://${this.host}:${this.clientPort}`;
  }

  /** pid of the etcd process (while it runs). */
  get pid(): number | undefined {
    return this.launched?.pid;
  }

  get running(): boolean {
    const child = this.launched?.child;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  /** The last lines etcd logged (for failure messages). */
  logTail(lines = 20): string {
    return this.log.split('\n').slice(-lines).join('\n');
  }

  static async start(options: EtcdOptions = {}): Promise<Etcd> {
    sweepStaleEtcds();
    const inHost = !!options.launch;
    const host = options.host ?? '127.0.0.1';
    const clientPort = options.clientPort ?? (inHost ? 2379 : await freePort());
    const peerPort = options.peerPort ?? (inHost ? 2380 : await freePort());
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${DATA_PREFIX}${process.pid}-`));
    const etcd = new Etcd(host, clientPort, peerPort, dataDir, options.launch ?? launchHere, options.startTimeoutMs ?? 20_000);
    live.add(etcd);
    try {
      await etcd.restart();
    } catch (error) {
      await etcd.close();
      throw error;
    }
    return etcd;
  }

  /** Start (again) on the same ports and data; resolves when it serves clients. */
  async restart(): Promise<void> {
    if (this.running) throw new Error('etcd is still running: stop or kill it before restarting');
    const peerUrl = `http://${this.host}:${this.peerPort}`;
    const args = [
      '--name', 'pph',
      '--data-dir', path.join(this.dataDir, 'data'),
      '--listen-client-urls', this.url,
      '--advertise-client-urls', this.url,
      '--listen-peer-urls', peerUrl,
      '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `pph=${peerUrl}`,
      '--initial-cluster-state', 'new',
      '--logger', 'zap',
      '--log-outputs', 'stderr',
      // Fast elections: one member, and tests restart it often.
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
    ];
    this.log = '';
    const launched = await this.launch(ETCD_BINARY, args);
    this.launched = launched;
    const child = launched.child;
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
    });
    const serving = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`etcd did not serve within ${this.startTimeoutMs} ms:\n${this.logTail()}`)), this.startTimeoutMs);
      const onData = (chunk: Buffer) => {
        this.log = (this.log + chunk.toString()).slice(-64 * 1024);
        // Logged once the client listener serves (after the member has started).
        if (/serving client traffic/.test(this.log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stderr!.on('data', onData);
      child.stdout!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`etcd exited (${code ?? signal}) before serving:\n${this.logTail()}`));
      });
    });
    await serving;
  }

  /** SIGTERM (a clean stop) and wait. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** SIGKILL and wait. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Freeze it (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void {
    if (this.running) process.kill(this.launched!.pid, 'SIGSTOP');
  }

  resume(): void {
    if (this.running) process.kill(this.launched!.pid, 'SIGCONT');
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return;
    const pid = this.launched!.pid;
    try {
      process.kill(pid, 'SIGCONT'); // a frozen etcd cannot act on SIGTERM
      process.kill(pid, signal);
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, 5000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kill it and remove its data. */
  async close(): Promise<void> {
    await this.kill();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    live.delete(this);
  }

  /** For exit handlers: no waiting. */
  closeNow(): void {
    if (this.running) {
      try {
        process.kill(this.launched!.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    live.delete(this);
  }
}

/** Start etcd (on loopback, or in a test host with `launch`); removed after the test file. */
export function startEtcd(options: EtcdOptions = {}): Promise<Etcd> {
  return Etcd.start(options);
}

/** Whether etcd is installed here (tests skip, naming scripts/setup-system.sh, when not). */
export function etcdInstalled(): boolean {
  try {
    fs.accessSync(ETCD_BINARY, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * etcds (and data directories) of test processes that died without cleaning up: every etcd
 * whose --data-dir names a pph-etcd-<pid>- directory of a pid that is gone.
 */
export function sweepStaleEtcds(): void {
  const tmp = os.tmpdir();
  const stale = (dir: string) => {
    const owner = new RegExp(`${DATA_PREFIX}(\\d+)-`).exec(dir);
    return owner !== null && !processAlive(Number(owner[1]));
  };
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string[];
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!cmdline[0]?.endsWith('etcd')) continue;
    const dataDir = cmdline[cmdline.indexOf('--data-dir') + 1] ?? '';
    if (dataDir.includes(DATA_PREFIX) && stale(dataDir)) {
      try {
        process.kill(Number(entry), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const entry of fs.readdirSync(tmp)) {
    if (entry.startsWith(DATA_PREFIX) && stale(entry)) fs.rmSync(path.join(tmp, entry), { recursive: true, force: true });
  }
}

const live = new Set<Etcd>();

await removeWhenDone(
  async () => {
    for (const etcd of [...live]) await etcd.close();
  },
  () => {
    for (const etcd of [...live]) etcd.closeNow();
  },
);
