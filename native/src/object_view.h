// Per-object ArrayBuffers for the client (src/client/plasma-client.ts): an alias of a range of a
// window ArrayBuffer (NativeMapping.window()) that V8 does not count as external memory.
//
// Why: V8 counts every external ArrayBuffer's length as external memory, and an increase of more
// than 64 MiB over the lowest count since the last full collection makes V8 start incremental
// marking or, if marking already runs, spend 5-10 ms marking inside the call that made the
// buffer. Lowering the count first does not help (the lowest count falls with it). So every
// get of an object over 64 MiB paid milliseconds of garbage collection. V8 does not count a
// backing store whose deleter is BackingStore::EmptyDeleter (memory it does not own), and N-API
// cannot make one, so this uses V8's API directly (v8::ArrayBuffer::NewBackingStore, stable
// since V8 8; the rest of the addon stays on N-API).
//
// An alias holds no reference on the mapping: the caller keeps the window reachable for as long
// as the alias is (the client maps alias -> window in a WeakMap) and never detaches the window.
// An alias is detachable, so release still cuts every view over it.
#pragma once

#include <napi.h>

namespace plasmapool {

// JS: aliasArrayBuffer(window: ArrayBuffer, byteOffset: number, length: number): ArrayBuffer.
Napi::Value AliasArrayBuffer(const Napi::CallbackInfo& info);

}  // namespace plasmapool
