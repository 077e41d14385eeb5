/**
 * The home node of an object id: the member with the highest rendezvous hash for it. Every node
 * computes the same answer from the same membership, and a member joining or leaving moves only
 * the ids it wins or held.
 */
import { createHash } from 'node:crypto';

export function homeNodeOf(key: string, nodeNames: readonly string[]): string {
  let best = '';
  let bestScore = -1n;
  for (const name of nodeNames) {
    const score = createHash('sha1').update(name).update('\0').update(key).digest().readBigUInt64BE(0);
    if (score > bestScore || (score === bestScore && name < best)) {
      best = name;
      bestScore = score;
    }
  }
  return best;
}
