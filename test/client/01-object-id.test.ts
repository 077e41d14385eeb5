/**
 * ObjectId: 20 raw bytes; random, hex round trip, deterministic names.
 */
import { describe, expect, it } from 'vitest';
import { ObjectId } from '../../src/index.js';

describe('ObjectId', () => {
  it('random() gives 20 bytes, different every time', () => {
    const a = ObjectId.random();
    const b = ObjectId.random();
    expect(a.bytes.byteLength).toBe(20);
    expect(a.toHex()).toMatch(/^[0-9a-f]{40}$/);
    expect(a.equals(b)).toBe(false);
  });

  it('fromHex() and toHex() round-trip, case-insensitively', () => {
    const id = ObjectId.random();
    expect(ObjectId.fromHex(id.toHex()).equals(id)).toBe(true);
    expect(ObjectId.fromHex(id.toHex().toUpperCase()).toHex()).toBe(id.toHex());
    expect(String(id)).toBe(id.toHex());
  });

  it('fromHex() refuses anything but 40 hex digits, naming the input', () => {
    expect(() => ObjectId.fromHex('abc')).toThrow(/40 hex digits.*"abc"/);
    expect(() => ObjectId.fromHex('z'.repeat(40))).toThrow(TypeError);
  });

  it('fromName() is deterministic and distinguishes names', () => {
    const a = ObjectId.fromName('shuffle/7/part-3');
    expect(ObjectId.fromName('shuffle/7/part-3').equals(a)).toBe(true);
    expect(ObjectId.fromName('shuffle/7/part-4').equals(a)).toBe(false);
    // Pinned value (first 20 bytes of SHA-256 of the UTF-8 name): ids must not change between releases.
    expect(a.toHex()).toBe('39def255e06d2190b8cbfe258a1a33b69d1b82ab');
  });

  it('fromBytes() copies exactly 20 bytes', () => {
    const raw = new Uint8Array(20).fill(7);
    const id = ObjectId.fromBytes(raw);
    raw[0] = 1;
    expect(id.bytes[0]).toBe(7);
    expect(() => ObjectId.fromBytes(new Uint8Array(19))).toThrow(/20 bytes, got 19/);
  });
});
