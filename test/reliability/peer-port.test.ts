/**
 * A cluster's ports probed by another local user (uid 65534): every gRPC method, without the
 * secret and with wrong ones, is refused before it runs; the peer channel and data ports admit
 * no connection without a token handed out by an authenticated call.
 */
import net from 'node:net';
import crypto from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { PEER_METHODS, probePeerPort } from '../helpers/peer-probe.js';
import { startTestCluster } from '../helpers/processes.js';
import { waitConnected } from '../cluster/agents.js';
import { report, scaled } from './scale.js';

describe('peer ports', () => {
  it('refuse every call from another uid without the cluster secret', async () => {
    const cluster = await startTestCluster({ nodes: 2 });
    await waitConnected(cluster);
    const [a] = cluster.nodes;
    const attempts = scaled(5, 50);
    let calls = 0;
    let accepted = 0;
    for (let i = 0; i < attempts; i++) {
      const secret = i === 0 ? '' : crypto.randomBytes(32).toString('hex');
      const { uid, results } = await probePeerPort(a!.address, secret, 65534);
      expect(uid).toBe(65534);
      for (const result of Object.values(results)) {
        calls++;
        if (result.status !== grpc.status.UNAUTHENTICATED || result.bytes !== 0) accepted++;
      }
    }
    report('peer-port', { methods: PEER_METHODS.length, calls, accepted, uid: 65534 });
    expect(accepted).toBe(0);
    // The store is unharmed and its peers still connected.
    await waitConnected(cluster);
    expect(net.isIP(a!.address.split(':')[0]!)).toBe(4);
  });
});
