/**
 * `hashtable://NAME`: the in-memory external store the reference offers (for tests and demos).
 */
import type { ExternalStore, SpilledEntry, SpilledObject } from './external-store.js';

export class HashTableStore implements ExternalStore {
  private readonly objects = new Map<string, SpilledObject>();

  constructor(readonly endpoint: string) {}

  list(): SpilledEntry[] {
    return []; // in memory: nothing survives the store
  }

  put(key: string, object: SpilledObject): void {
    this.objects.set(key, {
      data: Uint8Array.from(object.data),
      metadata: Uint8Array.from(object.metadata),
      digest: Uint8Array.from(object.digest),
    });
  }

  get(key: string): SpilledObject | undefined {
    return this.objects.get(key);
  }

  delete(key: string): void {
    this.objects.delete(key);
  }

  close(): void {
    this.objects.clear();
  }
}
