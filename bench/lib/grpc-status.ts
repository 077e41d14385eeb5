/**
 * The cluster's own gRPC Status call, used twice: to wait until a cluster's peers are connected,
 * and as the measured unary round trip ("one gRPC round trip" in the remote-get target).
 */
import * as grpc from '@grpc/grpc-js';
import { peerService, type PeerClient, type StatusReply } from '../../src/cluster/peer-service.js';

export function grpcStatus(address: string, client?: PeerClient): Promise<StatusReply> {
  const own = client ?? new (peerService().Client)(address, grpc.credentials.createInsecure());
  return new Promise<StatusReply>((resolve, reject) =>
    own.status({}, { deadline: Date.now() + 2000 }, (error, reply) => {
      if (!client) own.close();
      if (error) reject(new Error(error.details || error.message));
      else resolve(reply);
    }),
  );
}

/** Round trips of the Status call on one warm channel, in µs. */
export async function grpcRoundTrips(address: string, count: number): Promise<number[]> {
  const client = new (peerService().Client)(address, grpc.credentials.createInsecure());
  try {
    for (let i = 0; i < 20; i++) await grpcStatus(address, client); // connect and warm up
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await grpcStatus(address, client);
      samples.push((performance.now() - t0) * 1e3);
    }
    return samples;
  } finally {
    client.close();
  }
}
