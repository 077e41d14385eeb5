/**
 * The home node of an object id: the member with the highest rendezvous hash for it. Every node
 * computes the same answer from the same membership, and a member joining or leaving moves only
 * the ids it wins or held.
 */
import { hash } from 'node:crypto';

export function homeNodeOf(key: string, nodeNames: readonly string[]): string {
  return ranked(key, nodeNames)[0];
}

/**
 * The id's successor: the member with the second-highest score, the one that becomes its home if
 * the home leaves ('' when the home is alone).
 */
export function successorNodeOf(key: string, nodeNames: readonly string[]): string {
  return ranked(key, nodeNames)[1];
}

function ranked(key: string, nodeNames: readonly string[]): [string, string] {
  let best = '';
  let bestScore = -1n;
  let second = '';
  let secondScore = -1n;
  for (const name of nodeNames) {
    // Every create, removal and peer seal asks: the one-shot hash is about twice as fast.
    const score = BigInt(`0x${hash('sha1', `${name}\0${key}`).slice(0, 16)}`);
    if (score > bestScore || (score === bestScore && name < best)) {
      second = best;
      secondScore = bestScore;
      best = name;
      bestScore = score;
    } else if (score > secondScore || (score === secondScore && name < second)) {
      second = name;
      secondScore = score;
    }
  }
  return [best, second];
}
