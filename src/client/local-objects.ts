/**
 * The client's local reference counts (docs/protocol.md §3.7): one store reference per object and
 * client, counted locally per buffer handed out (plus the hold create keeps until seal). A Release
 * goes to the store only when the local count reaches 0, and never while a Get naming that object
 * is queued or in flight: the store would apply the Release after the Get attached its (single,
 * set-semantics) reference, and the Get's buffers would then point at unpinned memory.
 */
import type { DigestWriter } from '../protocol/digest.js';
import type { ObjectSpec } from '../protocol/messages.js';
import type { ObjectId } from '../protocol/object-id.js';
import { revokeBuffer, type BufferToken, type ReleaseTarget } from './object-buffer.js';

/** What this client holds of one object. */
export interface LocalObject {
  readonly id: ObjectId;
  readonly spec: ObjectSpec;
  sealed: boolean;
  /** Buffers handed out plus internal holds (create's seal hold, gets in flight). */
  count: number;
  /** The buffers handed out and not yet released, to detach them when the object goes away. */
  readonly tokens: Set<BufferToken>;
  /**
   * Created and unsealed: the seal digest computed while the data is written in order; null once
   * the data may have changed any other way (then seal hashes the object).
   */
  writer: DigestWriter | null;
}

export class LocalObjects {
  private readonly entries = new Map<string, LocalObject>();
  private readonly getsInFlight = new Map<string, number>();

  /** `sendRelease` tells the store (no reply, §3.7). */
  constructor(private readonly sendRelease: (id: ObjectId) => void) {}

  get size(): number {
    return this.entries.size;
  }

  get(id: ObjectId): LocalObject | undefined {
    return this.entries.get(id.hex);
  }

  /** Record an object the store just gave this client a reference to. */
  add(id: ObjectId, spec: ObjectSpec, sealed: boolean, count: number): LocalObject {
    const entry: LocalObject = { id, spec, sealed, count, tokens: new Set(), writer: null };
    this.entries.set(id.hex, entry);
    return entry;
  }

  /** A new buffer's token and the target its release (explicit or by GC) reports to. */
  newBuffer(entry: LocalObject, memory: ArrayBuffer): { token: BufferToken; target: ReleaseTarget } {
    entry.count += 1;
    const token: BufferToken = { released: false, memory: new WeakRef(memory) };
    entry.tokens.add(token);
    const target: ReleaseTarget = {
      releaseReference: (released) => {
        entry.tokens.delete(released);
        this.unhold(entry);
      },
    };
    return { token, target };
  }

  /** Drop one local count; at 0 (and with no get pending for it) the store gets a Release. */
  unhold(entry: LocalObject): void {
    entry.count -= 1;
    if (entry.count > 0 || this.getsInFlight.has(entry.id.hex)) return;
    this.forget(entry);
  }

  /** A Get naming these ids is about to be queued: defer their Releases until it completes. */
  beginGet(ids: readonly ObjectId[]): string[] {
    const keys = [...new Set(ids.map((id) => id.hex))];
    for (const key of keys) this.getsInFlight.set(key, (this.getsInFlight.get(key) ?? 0) + 1);
    return keys;
  }

  /** The Get is answered (and its buffers counted) or failed: send the Releases it deferred. */
  endGet(keys: readonly string[]): void {
    for (const key of keys) {
      const left = (this.getsInFlight.get(key) ?? 0) - 1;
      if (left > 0) {
        this.getsInFlight.set(key, left);
        continue;
      }
      this.getsInFlight.delete(key);
      const entry = this.entries.get(key);
      if (entry && entry.count <= 0) this.forget(entry);
    }
  }

  /** The object is gone for this client without a Release (abort): detach every buffer over it. */
  revoke(entry: LocalObject): void {
    if (this.entries.get(entry.id.hex) === entry) this.entries.delete(entry.id.hex);
    for (const token of entry.tokens) revokeBuffer(token);
    entry.tokens.clear();
    entry.count = 0;
  }

  /** The connection is closing and the store drops every reference: detach everything. */
  revokeAll(): void {
    for (const entry of [...this.entries.values()]) this.revoke(entry);
    this.getsInFlight.clear();
  }

  private forget(entry: LocalObject): void {
    // An entry replaced or revoked meanwhile has no reference at the store any more.
    if (this.entries.get(entry.id.hex) !== entry) return;
    this.entries.delete(entry.id.hex);
    this.sendRelease(entry.id);
  }
}
