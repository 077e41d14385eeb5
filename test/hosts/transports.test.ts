// Stores on separate "hosts" (network, mount and PID namespaces: test/helpers/hosts.ts): the copy
// transport between hosts that cannot see each other's memory, TLS between them, and the memory
// fabric case, where two hosts see one tmpfs and read each other's named regions in place.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mappingsOf, newId } from '../cluster/agents.js';
import { agentOn, testCluster, clusterCertificates, hostsSkipReason, testHosts } from './host-stores.js';

describe.skipIf(hostsSkipReason !== null)(`hosts: transports${hostsSkipReason ? ` (skipped: ${hostsSkipReason})` : ''}`, { timeout: 120_000 }, () => {
  it('copy transport: a get on host b of an object sealed on host a returns its bytes; b never maps a\'s region', async () => {
    const hosts = await testHosts({ hosts: ['a', 'b'] });
    const cluster = await testCluster(hosts);
    const [a, b] = await cluster.startStatic(hosts.list, () => ({ memory: '160MiB' }));
    // transport auto: b cannot open a's memory (no shared /dev/shm, no /proc of a's processes), so it copies.
    const status = await cluster.waitConnected([a!, b!]);
    for (const reply of status) expect(reply.peers.map((peer) => peer.transport)).toEqual(['copy']);
    const [onA, onB] = await Promise.all([agentOn(a!), agentOn(b!)]);
    for (const size of [0, 1000, (1 << 20) + 1, 50_000_000]) {
      const id = newId();
      const put = await onA.must('put', { id, size });
      const got = await onB.must('get', { id, timeout_ms: 10_000 });
      expect(got.found, `size ${size}`).toBe(true);
      expect(got.sha256, `size ${size}`).toBe(put.sha256);
      expect((await onB.must('hash', { id })).hash).toBe((await onA.must('hash', { id })).hash);
      if (size > 0) {
        // The bytes b's client reads lie in b's own region (a replica), not in a's.
        const address = BigInt(got.address as number);
        expect(mappingsOf(onB.maps(), b!.regionPath).some((r) => address >= r.start && address + BigInt(size) <= r.end)).toBe(true);
      }
      await onB.must('release', { id });
    }
    expect(mappingsOf(onB.maps(), a!.regionPath)).toHaveLength(0);
    expect(onB.maps()).not.toContain(path.basename(a!.regionPath));
  });

  it('TLS between hosts: mutual TLS with a throwaway CA, copy transport, a caller without the CA\'s certificate is refused', async () => {
    const hosts = await testHosts({ hosts: ['a', 'b'] });
    const tls = await clusterCertificates(hosts.dir, hosts.list.map((h) => h.address));
    const cluster = await testCluster(hosts, { tls });
    const [a, b] = await cluster.startStatic(hosts.list);
    const status = await cluster.waitConnected([a!, b!]);
    for (const reply of status) expect(reply.peers.map((peer) => peer.transport)).toEqual(['copy']);
    const [onA, onB] = await Promise.all([agentOn(a!), agentOn(b!)]);
    for (const size of [1000, 3 << 20]) {
      const id = newId();
      const put = await onB.must('put', { id, size });
      const got = await onA.must('get', { id, timeout_ms: 10_000, hold: false });
      expect(got.sha256, `${size} bytes`).toBe(put.sha256);
    }
    // Without a certificate of the cluster CA (only a secret nobody configured): refused.
    await expect(cluster.control.status(a!.address, { secretFile: undefined, tls: undefined })).rejects.toThrow();
  });

  it('memory fabric: hosts that see one tmpfs attach each other\'s named region by path and UUID and read in place', async () => {
    const hosts = await testHosts({ hosts: ['a', 'b'], fabric: true });
    const cluster = await testCluster(hosts);
    const [a, b] = await cluster.startStatic(hosts.list, (host) => ({ region: path.join(hosts.fabricDir!, `${host.name}.region`) }));
    expect(a!.regionPath).toBe(path.join(hosts.fabricDir!, 'a.region'));
    const status = await cluster.waitConnected([a!, b!]);
    for (const reply of status) expect(reply.peers.map((peer) => peer.transport)).toEqual(['shared']);
    const [onA, onB] = await Promise.all([agentOn(a!), agentOn(b!)]);
    const id = newId();
    const size = 4 << 20;
    const put = await onA.must('put', { id, size });
    const got = await onB.must('get', { id, timeout_ms: 10_000 });
    expect(got.sha256).toBe(put.sha256);
    // Zero-copy: b's client reads the bytes inside its mapping of a's fabric file; b's store holds no copy.
    const address = BigInt(got.address as number);
    const fabricMaps = mappingsOf(onB.maps(), a!.regionPath);
    expect(fabricMaps.length).toBeGreaterThan(0);
    expect(fabricMaps.some((r) => address >= r.start && address + BigInt(size) <= r.end)).toBe(true);
    expect((await onB.must('list')).objects).toEqual({});
    await onB.must('release', { id });
  });
});
