/**
 * The composition root of a store process: a store, and around it the cluster its options ask
 * for. store/ knows clusters only through the interfaces of store/cluster-port.ts; this is the one
 * place that builds the concrete ClusterNode.
 */
import { ClusterNode, type ClusterOptions } from '../cluster/cluster-node.js';
import { startStore, type StoreHandle, type StoreOptions } from '../store/server.js';

export interface NodeOptions extends Omit<StoreOptions, 'cluster'> {
  /** Join a cluster of stores (static peers or etcd); a single store without it. */
  cluster?: ClusterOptions;
}

export function startNode(options: NodeOptions): Promise<StoreHandle> {
  const { cluster, ...store } = options;
  return startStore({
    ...store,
    cluster: cluster && ((parts) => new ClusterNode(parts.store, parts.region, parts.socketPath, { ...cluster, regionAttachPath: parts.regionAttachPath }, parts.log)),
  });
}
