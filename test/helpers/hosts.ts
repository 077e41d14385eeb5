/**
 * "Hosts" made of Linux namespaces on this machine, for tests that need machines that really are
 * separate (docs/cluster.md, issue 13):
 *
 * - every host is a network namespace with its own address on a private test subnet, joined by a
 *   veth pair to a bridge that lives in a "switch" namespace of its own;
 * - every host has its own mount and PID namespaces with a private /dev/shm and /proc, so no
 *   process of another host can open its memory (neither a /dev/shm file nor /proc/PID/fd);
 * - optionally a "fabric": one tmpfs mounted once that the chosen hosts all see, standing in for a
 *   memory fabric (CXL, a DAX device), where a store's region is a named file.
 *
 * Every namespace, link, mount and process made here is removed by destroy(), after the test file
 * (afterAll), when the test process exits, and, if the test process was killed, by the sweep at
 * the next start (names carry the owner's pid). A host's first process reads a pipe from this
 * process and ends when it closes, which tears down the host's PID namespace with everything in it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processAlive, removeWhenDone, type Launched, type Launcher } from './launch.js';

/** RFC 1918, unused on this machine (checked before use); addresses live only in our namespaces. */
export const TEST_SUBNET = '10.213.47';
/** Prefix of every namespace and temporary directory made here: pph-<owner pid>-<set>-… */
const PREFIX = 'pph';
export const SWITCH_ADDRESS = `${TEST_SUBNET}.1`;

export interface HostsOptions {
  /** Host names (letters, digits, '-'), in order; addresses are .11, .12, … */
  hosts: readonly string[];
  /** Hosts that see the fabric tmpfs (true: all of them). */
  fabric?: readonly string[] | boolean;
  /** Size of each host's /dev/shm and of the fabric (default 1g). */
  shmSize?: string;
  fabricSize?: string;
}

/** Why namespace tests cannot run here, or null when they can. */
export function hostsUnavailableReason(): string | null {
  if (process.platform !== 'linux') return 'Linux namespaces are needed';
  if (process.getuid?.() !== 0) return 'the namespace "hosts" need root (ip netns, mount, unshare)';
  for (const tool of ['ip', 'tc', 'nsenter', 'unshare', 'iptables']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is missing: run scripts/setup-system.sh`;
    }
  }
  return null;
}

function run(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr || (error as Error).message}`);
  }
}

function tryRun(command: string, args: readonly string[]): void {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
  } catch {
    // cleaning up: keep going
  }
}

/** Children of a process (no /proc/PID/task/PID/children on this kernel: scan stat files). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // comm may hold spaces and parentheses: ppid is the second field after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

/** The child that `pid` forked (nsenter and unshare fork once), once it exists. */
async function forkedChild(pid: number, child: ChildProcess, what: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [found] = childrenOf(pid);
    if (found !== undefined) return found;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) at start`);
    if (Date.now() > deadline) throw new Error(`${what} did not start within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A program running in a host. */
export interface HostProcess extends Launched {
  /** Everything it wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null: killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Signal the program itself (not its nsenter wrapper). */
  signal(signal: NodeJS.Signals): void;
  /** Signal (SIGTERM by default), wait; SIGKILL after 5 s. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export class Host {
  /** The process that holds the host's PID and mount namespaces (PID 1 there). */
  private initPid = 0;
  private init: ChildProcess | null = null;
  private delayed: { netem?: boolean; shaper?: HostProcess } | null = null;
  readonly processes = new Set<HostProcess>();

  constructor(
    readonly name: string,
    readonly index: number,
    /** Network namespace name (ip netns). */
    readonly ns: string,
    private readonly hosts: Hosts,
  ) {}

  /** This host's address on the test subnet. */
  get address(): string {
    return `${TEST_SUBNET}.${11 + this.index}`;
  }

  /** The switch end of this host's link (in the switch namespace). */
  get switchPort(): string {
    return `p${this.index}`;
  }

  /** Create the namespaces and the link; `fabricDir` stays visible only if `onFabric`. */
  async boot(shmSize: string, fabricDir: string | undefined, onFabric: boolean): Promise<void> {
    run('ip', ['netns', 'add', this.ns]);
    const sw = this.hosts.switchNs;
    run('ip', ['-n', sw, 'link', 'add', this.switchPort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns]);
    run('ip', ['-n', sw, 'link', 'set', this.switchPort, 'master', 'br0', 'up']);
    // No IPv6 chatter (router solicitations, MLD) on the test links: the counters then show our traffic only.
    run('ip', ['netns', 'exec', this.ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    run('ip', ['-n', this.ns, 'addr', 'add', `${this.address}/24`, 'dev', 'eth0']);
    run('ip', ['-n', this.ns, 'link', 'set', 'eth0', 'up']);
    run('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']);
    // PID 1 of the host: private /dev/shm (and /proc, from --mount-proc); it lives as long as its
    // stdin, a pipe from this process, stays open.
    const hideFabric = fabricDir && !onFabric ? `umount -l ${fabricDir} && ` : '';
    const script = `mount -t tmpfs -o size=${shmSize},mode=1777 tmpfs /dev/shm && ${hideFabric}echo ready && exec cat >/dev/null`;
    const init = spawn('ip', ['netns', 'exec', this.ns, 'unshare', '--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private', 'sh', '-c', script], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.init = init;
    let output = '';
    init.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    init.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (output.includes('ready')) return resolve();
        if (init.exitCode !== null) return reject(new Error(`host ${this.name} did not start: ${output}`));
        setTimeout(check, 5);
      };
      check();
    });
    this.initPid = await forkedChild(init.pid!, init, `host ${this.name}`);
  }

  /** Start a program in this host (its network, mount and PID namespaces). */
  async spawn(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<HostProcess> {
    if (!this.initPid) throw new Error(`host ${this.name} is not running`);
    const child = spawn('nsenter', ['--target', String(this.initPid), '--net', '--mount', '--pid', '--', command, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => (out = (out + chunk.toString()).slice(-1 << 20)));
    child.stderr!.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-1 << 20)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const pid = await forkedChild(child.pid!, child, `${command} in host ${this.name}`);
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(pid, name);
      } catch {
        // gone
      }
    };
    const handle: HostProcess = {
      child,
      pid,
      stdout: () => out,
      stderr: () => err,
      exited,
      signal,
      stop: async (name: NodeJS.Signals = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) {
          signal('SIGCONT');
          signal(name);
        }
        const timer = setTimeout(() => signal('SIGKILL'), 5000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      },
    };
    this.processes.add(handle);
    void exited.then(() => this.processes.delete(handle));
    return handle;
  }

  /** A Launcher (etcd.ts, agents) that starts programs in this host. */
  readonly launch: Launcher = (command, args) => this.spawn(command, args);

  /** Cut the host's link at the switch: a dead cable, as seen from both sides. */
  cut(): void {
    run('ip', ['-n', this.hosts.switchNs, 'link', 'set', this.switchPort, 'down']);
  }

  heal(): void {
    run('ip', ['-n', this.hosts.switchNs, 'link', 'set', this.switchPort, 'up']);
  }

  /**
   * Delay and lose the packets the host sends: `tc qdisc add dev eth0 root netem delay D loss L`
   * where the kernel has netem; elsewhere (this machine's kernel has no sch_netem) the host's
   * outgoing packets go through NFQUEUE to link-delay.py, which holds each one `delayMs` and drops
   * `lossPercent` of them. With every host delayed, a round trip between two hosts gains 2 × D.
   */
  async delay(options: { delayMs: number; lossPercent: number }): Promise<void> {
    await this.undelay();
    const netem = ['netem', 'delay', `${options.delayMs}ms`, 'loss', `${options.lossPercent}%`];
    if (netemAvailable()) {
      run('tc', ['-n', this.ns, 'qdisc', 'replace', 'dev', 'eth0', 'root', ...netem]);
      this.delayed = { netem: true };
      return;
    }
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'link-delay.py');
    const shaper = await this.spawn('python3', [script, '0', String(options.delayMs), String(options.lossPercent)]);
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (shaper.stdout().includes('ready')) return resolve();
        if (shaper.child.exitCode !== null) return reject(new Error(`link-delay.py in host ${this.name} exited: ${shaper.stderr()}`));
        setTimeout(check, 5);
      };
      check();
    });
    this.delayed = { shaper };
    // --queue-bypass: should the shaper die, packets pass instead of vanishing.
    for (const rule of NFQUEUE_RULES) run('ip', ['netns', 'exec', this.ns, 'iptables', '-A', ...rule, '-j', 'NFQUEUE', '--queue-num', '0', '--queue-bypass']);
  }

  async undelay(): Promise<void> {
    const delayed = this.delayed;
    if (!delayed) return;
    this.delayed = null;
    if (delayed.netem) {
      tryRun('tc', ['-n', this.ns, 'qdisc', 'del', 'dev', 'eth0', 'root']);
      return;
    }
    for (const rule of NFQUEUE_RULES) tryRun('ip', ['netns', 'exec', this.ns, 'iptables', '-D', ...rule, '-j', 'NFQUEUE', '--queue-num', '0', '--queue-bypass']);
    delayed.shaper?.child.stdin!.end();
    await delayed.shaper?.stop('SIGTERM');
  }

  /** Packets and bytes the host sent on its link: the rx counters of its switch port. */
  sentCounters(): { packets: number; bytes: number } {
    const read = (name: string) =>
      Number(run('ip', ['netns', 'exec', this.hosts.switchNs, 'cat', `/sys/class/net/${this.switchPort}/statistics/${name}`]).trim());
    return { packets: read('rx_packets'), bytes: read('rx_bytes') };
  }

  /** Kill every process of the host and its namespaces (synchronous: exit handlers use it). */
  destroyNow(): void {
    for (const proc of this.processes) proc.signal('SIGKILL');
    if (this.initPid) {
      try {
        process.kill(this.initPid, 'SIGKILL'); // PID 1 gone: the kernel kills the rest of the host
      } catch {
        // gone
      }
    }
    this.init?.stdin?.destroy();
    this.init?.kill('SIGKILL');
    tryRun('ip', ['netns', 'del', this.ns]);
  }

  async destroy(): Promise<void> {
    const waits = [...this.processes].map((proc) => proc.exited);
    const init = this.init;
    const initGone = init && init.exitCode === null && init.signalCode === null ? new Promise((resolve) => init.once('exit', resolve)) : null;
    this.destroyNow();
    await Promise.race([Promise.all([...waits, initGone]), new Promise((resolve) => setTimeout(resolve, 5000))]);
  }
}

/** The host's packets out of its link (iptables rule of the NFQUEUE fallback), as netem on eth0. */
const NFQUEUE_RULES = [['OUTPUT', '-o', 'eth0']];

let netemKnown: boolean | undefined;
/** Whether this kernel has sch_netem (probed once, on a dummy link in a scratch namespace). */
function netemAvailable(): boolean {
  if (netemKnown !== undefined) return netemKnown;
  const ns = `${PREFIX}-${process.pid}-probe`;
  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    run('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'v0', 'root', 'netem', 'delay', '1ms']);
    netemKnown = true;
  } catch {
    netemKnown = false;
  } finally {
    tryRun('ip', ['netns', 'del', ns]);
  }
  return netemKnown;
}

let nextSet = 0;
const liveSets = new Set<Hosts>();

export class Hosts {
  readonly id: string;
  readonly switchNs: string;
  /** Private temporary directory (sockets, secrets, certificates) that every host sees. */
  readonly dir: string;
  /** The fabric tmpfs, when asked for. */
  readonly fabricDir: string | undefined;
  readonly list: Host[] = [];
  private destroyed = false;
  private readonly destroyHooks: (() => void)[] = [];

  private constructor(options: HostsOptions) {
    this.id = `${PREFIX}-${process.pid}-${nextSet++}`;
    this.switchNs = `${this.id}-sw`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${this.id}-`));
    this.fabricDir = options.fabric ? path.join(this.dir, 'fabric') : undefined;
    options.hosts.forEach((name, i) => {
      if (!/^[a-z0-9-]+$/i.test(name)) throw new Error(`host name "${name}": use letters, digits and '-'`);
      this.list.push(new Host(name, i, `${this.id}-${name}`, this));
    });
  }

  /** Make the switch, the hosts and the fabric; everything is removed again if a step fails. */
  static async create(options: HostsOptions): Promise<Hosts> {
    const reason = hostsUnavailableReason();
    if (reason) throw new Error(`cannot make test hosts: ${reason}`);
    sweepStaleHosts();
    checkSubnetUnused();
    const hosts = new Hosts(options);
    liveSets.add(hosts);
    try {
      run('ip', ['netns', 'add', hosts.switchNs]);
      run('ip', ['-n', hosts.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
      run('ip', ['-n', hosts.switchNs, 'link', 'set', 'br0', 'up']);
      run('ip', ['-n', hosts.switchNs, 'link', 'set', 'lo', 'up']);
      // The switch's own address: where the control agent (hosts-control.ts) talks to every host from.
      run('ip', ['netns', 'exec', hosts.switchNs, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      run('ip', ['-n', hosts.switchNs, 'addr', 'add', `${SWITCH_ADDRESS}/24`, 'dev', 'br0']);
      if (hosts.fabricDir) {
        fs.mkdirSync(hosts.fabricDir);
        run('mount', ['-t', 'tmpfs', '-o', `size=${options.fabricSize ?? '1g'},mode=0700`, 'tmpfs', hosts.fabricDir]);
      }
      const onFabric = (name: string) => options.fabric === true || (Array.isArray(options.fabric) && options.fabric.includes(name));
      for (const host of hosts.list) await host.boot(options.shmSize ?? '1g', hosts.fabricDir, onFabric(host.name));
    } catch (error) {
      await hosts.destroy();
      throw error;
    }
    return hosts;
  }

  host(name: string): Host {
    const host = this.list.find((h) => h.name === name);
    if (!host) throw new Error(`no host "${name}" (hosts: ${this.list.map((h) => h.name).join(', ')})`);
    return host;
  }

  /** Run `hook` (synchronous) first when the hosts are destroyed: for processes outside the hosts. */
  onDestroy(hook: () => void): void {
    this.destroyHooks.push(hook);
  }

  /** Remove everything (synchronous, for exit handlers). */
  destroyNow(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const hook of this.destroyHooks.splice(0).reverse()) {
      try {
        hook();
      } catch {
        // keep cleaning
      }
    }
    for (const host of this.list) host.destroyNow();
    tryRun('ip', ['netns', 'del', this.switchNs]);
    if (this.fabricDir) tryRun('umount', ['-l', this.fabricDir]);
    fs.rmSync(this.dir, { recursive: true, force: true });
    liveSets.delete(this);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await Promise.all(this.list.map((host) => host.destroy()));
    this.destroyNow();
  }
}

/** Make test hosts; they are removed after the test file even if nobody calls destroy(). */
export function createHosts(options: HostsOptions): Promise<Hosts> {
  return Hosts.create(options);
}

/** Refuse to run if the test subnet is in use outside our namespaces (we would shadow it). */
function checkSubnetUnused(): void {
  const used = run('ip', ['-4', '-o', 'addr', 'show']) + run('ip', ['-4', 'route', 'show']);
  if (used.includes(`${TEST_SUBNET}.`)) {
    throw new Error(`the test subnet ${TEST_SUBNET}.0/24 is in use on this machine: change TEST_SUBNET in test/helpers/hosts.ts`);
  }
}

/**
 * What test processes that died without cleaning up left behind: namespaces, mounts and
 * directories named pph-<pid>-… whose pid is gone.
 */
export function sweepStaleHosts(): void {
  const staleOwner = (name: string) => {
    const match = new RegExp(`^${PREFIX}-(\\d+)-`).exec(name);
    return match !== null && Number(match[1]) !== process.pid && !processAlive(Number(match[1]));
  };
  const namespaces = run('ip', ['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name && staleOwner(name));
  for (const ns of namespaces) {
    // Every process in it (a host's PID 1 among them: its namespace goes with it).
    for (const pid of run('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    tryRun('ip', ['netns', 'del', ns]);
  }
  const tmp = os.tmpdir();
  // Processes outside any host that name a stale directory (stores of a run whose hosts are gone).
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const named = new RegExp(`${tmp}/(${PREFIX}-\\d+-[^/\\0]*)`).exec(cmdline);
    if (named && staleOwner(named[1]!)) {
      try {
        process.kill(Number(entry), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => line.split(' ')[1] ?? '');
  for (const entry of fs.readdirSync(tmp)) {
    if (!staleOwner(entry)) continue;
    const dir = path.join(tmp, entry);
    for (const mount of mounts.filter((m) => m.startsWith(`${dir}/`))) tryRun('umount', ['-l', mount]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await removeWhenDone(
  async () => {
    for (const hosts of [...liveSets]) await hosts.destroy();
  },
  () => {
    for (const hosts of [...liveSets]) hosts.destroyNow();
  },
);
// A test process stopped by a signal runs no 'exit' handlers unless the signal ends it through
// process.exit: do that when nobody else handles the signal.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  if (process.listenerCount(signal) === 0) {
    process.once(signal, () => {
      for (const hosts of [...liveSets]) hosts.destroyNow();
      process.exit(128 + os.constants.signals[signal]);
    });
  }
}
