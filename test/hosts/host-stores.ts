/**
 * The host tests' side of test hosts: skip reasons, hosts and store clusters removed after each
 * test, and pyarrow 11 clients (test/cluster/plasma_agent.py) in a store's host.
 */
import fs from 'node:fs';
import { PyAgent, python } from '../cluster/agents.js';
import { HostCluster, type HostStore } from '../helpers/host-cluster.js';
import type { TlsFiles } from '../../src/cluster/peer-auth.js';
import { createHosts, hostsUnavailableReason, type Hosts, type HostsOptions } from '../helpers/hosts.js';
import { onCleanup } from '../helpers/processes.js';

export { HostCluster, HostStore, clusterCertificates } from '../helpers/host-cluster.js';

/** Why the host tests cannot run here (they are skipped, saying so), or null. */
export const hostsSkipReason: string | null =
  hostsUnavailableReason() ?? (fs.existsSync(python) ? null : `no pyarrow 11 client: run scripts/setup-python.sh (${python} is missing)`);

/** Test hosts removed after the current test (and, in any case, after the file). */
export async function testHosts(options: HostsOptions): Promise<Hosts> {
  const hosts = await createHosts(options);
  onCleanup(() => hosts.destroy());
  return hosts;
}

/** A cluster of stores in these hosts; its stores stop after the current test. */
export async function testCluster(hosts: Hosts, options: { tls?: TlsFiles } = {}): Promise<HostCluster> {
  const cluster = await HostCluster.create(hosts, options);
  onCleanup(async () => {
    await Promise.all(cluster.stores.filter((store) => store.proc && store.running).map((store) => store.stop()));
    cluster.control.close();
  });
  return cluster;
}

/** A pyarrow 11 client in the store's host. */
export function agentOn(store: HostStore): Promise<PyAgent> {
  return PyAgent.start(store.socketPath, store.host.launch);
}
