/**
 * A store's Prometheus metrics (prom-client), read from the running store at each scrape. Names
 * follow Prometheus conventions: a `plasmapool_` prefix, base units in the name (`_bytes`,
 * `_seconds`), `_total` on counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreHandle } from '../store/server.js';
import { statOf } from '../store/admin-answer.js';
import type { ClusterHealth } from '../store/cluster-port.js';

/** Request latency buckets: a Unix-socket round trip is ~30 µs, a large create a few ms. */
const LATENCY_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];

export function storeMetrics(handle: StoreHandle, nodeName: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeName });
  collectDefaultMetrics({ register: registry });
  const stat = () => statOf({ store: handle.store, socketPath: handle.socketPath, nodeName, startedAt: 0, cluster: () => handle.cluster });
  const registers = [registry];

  new Gauge({
    name: 'plasmapool_capacity_bytes',
    help: 'Bytes objects may use in total (the -m capacity).',
    registers,
    collect() {
      this.set(handle.capacity);
    },
  });
  new Gauge({
    name: 'plasmapool_used_bytes',
    help: 'Bytes of data and metadata of the objects in memory.',
    registers,
    collect() {
      this.set(handle.store.allocated);
    },
  });
  new Gauge({
    name: 'plasmapool_objects',
    help: 'Objects in the store by state: created (being written), sealed, evicted (spilled to the external store).',
    labelNames: ['state'],
    registers,
    collect() {
      const byState = stat().objectsByState;
      for (const [state, count] of Object.entries(byState)) this.labels(state).set(count);
    },
  });
  new Gauge({
    name: 'plasmapool_clients',
    help: 'Connected Plasma clients.',
    registers,
    collect() {
      this.set(handle.store.clientCount);
    },
  });

  const counters = handle.store.counters;
  const total = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  new Counter({
    name: 'plasmapool_requests_total',
    help: 'Plasma requests handled in TypeScript, by type (the native data plane counts its own: plasmapool_native_requests_total).',
    labelNames: ['type'],
    registers,
    collect() {
      this.reset();
      for (const [type, count] of counters.requests) this.labels(type).inc(count);
    },
  });
  total(
    'plasmapool_native_requests_total',
    'Requests the native data plane answered without TypeScript (hot Get, Release, Contains, Create, Seal…; not by type).',
    () => handle.store.nativeRequests,
  );
  const latency = new Histogram({
    name: 'plasmapool_request_duration_seconds',
    help: 'Time the store spends handling one request, by type (a get that waits for a seal counts its handling, not its wait).',
    labelNames: ['type'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  counters.onRequest((type, seconds) => latency.labels(type).observe(seconds));
  total('plasmapool_evictions_total', 'Objects evicted from memory.', () => counters.evictions);
  total('plasmapool_evicted_bytes_total', 'Bytes of the objects evicted from memory.', () => counters.evictedBytes);
  total('plasmapool_spills_total', 'Evicted objects written to the external store.', () => counters.spills);
  total('plasmapool_spilled_bytes_total', 'Bytes written to the external store.', () => counters.spilledBytes);
  total('plasmapool_restores_total', 'Objects read back from the external store.', () => counters.restores);
  new Counter({
    name: 'plasmapool_remote_gets_total',
    help: "Peers' objects brought within reach of local clients, by transport (shared: read in place; copy: streamed here).",
    labelNames: ['transport'],
    registers,
    collect() {
      this.reset();
      for (const [transport, count] of Object.entries(counters.remoteGets)) this.labels(transport).inc(count);
    },
  });
  total('plasmapool_copy_transport_bytes_total', 'Bytes streamed into this store by the copy transport.', () => counters.copiedBytes);
  total('plasmapool_lease_expiries_total', "Peers' leases that ran out (their pins here were dropped).", () => counters.leaseExpiries);
  total('plasmapool_claim_conflicts_total', 'New objects aborted because another node held their id.', () => counters.claimConflicts);
  new Gauge({
    name: 'plasmapool_peers',
    help: 'Peers in the cluster configuration.',
    registers,
    collect() {
      this.set(handle.cluster?.peerStates().length ?? 0);
    },
  });
  new Gauge({
    name: 'plasmapool_peers_up',
    help: 'Peers this store is connected to.',
    registers,
    collect() {
      this.set(handle.cluster?.peerStates().filter((p) => p.connected).length ?? 0);
    },
  });
  clusterHealthMetrics(handle, registers, total);
  return registry;
}

/** Membership and fencing (docs/cluster.md): read from ClusterNode.health() at each scrape. */
function clusterHealthMetrics(handle: StoreHandle, registers: Registry[], total: (name: string, help: string, read: () => number) => Counter): void {
  const health = () => handle.cluster?.health();
  new Gauge({
    name: 'plasmapool_cluster_live',
    help: 'This store is a member now (1): it grants, claims and seals; 0 while fenced or rejoining.',
    registers,
    collect() {
      this.set(health()?.live ? 1 : 0);
    },
  });
  new Gauge({
    name: 'plasmapool_cluster_members',
    help: 'Members in the view, this store included.',
    registers,
    collect() {
      this.set(health()?.members ?? 0);
    },
  });
  total('plasmapool_cluster_fenced_seconds_total', 'Time this store spent fenced (cut off from etcd).', () => (health()?.fencedMs ?? 0) / 1000);
  total('plasmapool_cluster_fences_total', 'Times this store fenced itself.', () => health()?.fences ?? 0);
  const byResult = (name: string, help: string, read: (h: ClusterHealth) => Record<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        const h = health();
        if (h) for (const [result, count] of Object.entries(read(h))) this.labels(result).inc(count);
      },
    });
  byResult('plasmapool_cluster_claims_total', 'Id claims: granted / denied / retried by this store as home; unreachable: its own claims that found no answer in time.', (h) => ({
    granted: h.claimsGranted,
    denied: h.claimsDenied,
    retried: h.claimsRetried,
    unreachable: h.claimsUnreachable,
  }));
  total('plasmapool_cluster_creates_refused_fenced_total', 'Creates refused while fenced.', () => health()?.createsRefusedFenced ?? 0);
  total('plasmapool_cluster_seals_refused_fenced_total', 'Seals refused because the store was fenced after the claim.', () => health()?.sealsRefusedFenced ?? 0);
  total('plasmapool_cluster_duplicate_ids_total', 'Ids found held by two stores (each one was resolved to one object).', () => health()?.duplicateIds ?? 0);
  byResult('plasmapool_cluster_reclaims_total', 'Sealed objects re-claimed on rejoin: kept, or lost (another store held the id; the local one was dropped).', (h) => ({
    kept: h.reclaimed,
    lost: h.reclaimLost,
  }));
}
