/**
 * Gets that wait for objects to be sealed (docs/protocol.md §3.6): indexed by the keys they still
 * miss, completed when the last one arrives or when their timer fires.
 */
import type { ObjectId } from '../protocol/object-id.js';
import type { ClientSession } from './session.js';

/** setTimeout cannot wait longer than this (it fires after 1 ms instead, §13). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class PendingGet {
  /** Distinct keys not yet available. */
  readonly missing: Set<string>;
  timer: NodeJS.Timeout | null = null;
  finished = false;

  constructor(
    readonly session: ClientSession,
    readonly ids: readonly ObjectId[],
    missing: Iterable<string>,
  ) {
    this.missing = new Set(missing);
  }
}

export class PendingGets {
  private readonly byKey = new Map<string, Set<PendingGet>>();

  /** Keys some get waits for. */
  get size(): number {
    return this.byKey.size;
  }

  /** Start waiting; `onTimeout` runs once if the get is still pending after timeoutMs (−1: never). */
  wait(get: PendingGet, timeoutMs: number, onTimeout: (get: PendingGet) => void): void {
    for (const key of get.missing) {
      let set = this.byKey.get(key);
      if (!set) this.byKey.set(key, (set = new Set()));
      set.add(get);
    }
    get.session.pendingGets.add(get);
    // Waits beyond what a timer can express are, in practice, forever.
    if (timeoutMs >= 0 && timeoutMs <= MAX_TIMER_MS) {
      get.timer = setTimeout(() => onTimeout(get), timeoutMs);
    }
  }

  /** Gets waiting for this key (the caller marks it available in each). */
  waitingFor(key: string): PendingGet[] {
    const set = this.byKey.get(key);
    return set ? [...set] : [];
  }

  /** The key is no longer missing for this get. */
  satisfied(get: PendingGet, key: string): void {
    get.missing.delete(key);
    const set = this.byKey.get(key);
    if (set) {
      set.delete(get);
      if (set.size === 0) this.byKey.delete(key);
    }
  }

  /** Stop waiting (completed, timed out, or its client went away). */
  finish(get: PendingGet): void {
    get.finished = true;
    if (get.timer) clearTimeout(get.timer);
    get.timer = null;
    for (const key of get.missing) {
      const set = this.byKey.get(key);
      if (!set) continue;
      set.delete(get);
      if (set.size === 0) this.byKey.delete(key);
    }
    get.session.pendingGets.delete(get);
  }

  /** Keys some get is waiting for (the cluster layer watches these at peers). */
  keys(): IterableIterator<string> {
    return this.byKey.keys();
  }
}
