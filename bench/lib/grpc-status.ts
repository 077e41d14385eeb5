/**
 * The cluster's own gRPC Status call as the measured unary round trip ("one gRPC round trip" in
 * the remote-get target).
 */
import { newPeerClient, type PeerAccess } from '../../src/cluster/peer-auth.js';
import { queryStatus } from '../../src/cluster/status-client.js';

/** Round trips of the Status call on one warm channel, in µs. */
export async function grpcRoundTrips(address: string, access: PeerAccess, count: number): Promise<number[]> {
  const client = newPeerClient(address, access);
  try {
    for (let i = 0; i < 20; i++) await queryStatus(address, access, client); // connect and warm up
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await queryStatus(address, access, client);
      samples.push((performance.now() - t0) * 1e3);
    }
    return samples;
  } finally {
    client.close();
  }
}
