/**
 * The home node of an object id: the member with the highest rendezvous hash for it. Every node
 * computes the same answer from the same membership, and a member joining or leaving moves only
 * the ids it wins or held.
 */
import { hash } from 'node:crypto';

export function homeNodeOf(key: string, nodeNames: readonly string[]): string {
  let best = '';
  let bestScore = -1n;
  for (const name of nodeNames) {
    // Every create, removal and peer seal asks: the one-shot hash is about twice as fast.
    const score = BigInt(`0x${hash('sha1', `${name}\0${key}`).slice(0, 16)}`);
    if (score > bestScore || (score === bestScore && name < best)) {
      best = name;
      bestScore = score;
    }
  }
  return best;
}
