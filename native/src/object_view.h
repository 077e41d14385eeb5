// Per-object ArrayBuffers for the client (src/client/plasma-client.ts): an alias of a range of a
// NativeMapping that V8 does not count as external memory.
//
// Why: V8 counts every external ArrayBuffer's length as external memory, and an increase of more
// than 64 MiB over the lowest count since the last full collection makes V8 start incremental
// marking or, if marking already runs, spend 5-10 ms marking inside the call that made the
// buffer. Lowering the count first does not help (the lowest count falls with it). So every get
// of an object over 64 MiB paid milliseconds of garbage collection (and so did the first get of a
// connection, which made a window over the whole region). V8 does not count a backing store whose
// deleter is BackingStore::EmptyDeleter (memory it does not own), and N-API cannot make one, so
// this uses V8's API directly (v8::ArrayBuffer::NewBackingStore, stable since V8 8; the rest of
// the addon stays on N-API).
//
// An alias holds no reference on the mapping. The caller guarantees that the memory stays mapped
// while the alias is attached: it keeps the NativeMapping object reachable from the alias (so that
// collecting it cannot unmap), and detaches every alias before it closes the mapping. An alias
// is detachable, so release cuts every view over it.
#pragma once

#include <napi.h>

namespace plasmapool {

// JS: aliasMapping(mapping: NativeMapping, offset: number, length: number): ArrayBuffer.
Napi::Value AliasMapping(const Napi::CallbackInfo& info);

}  // namespace plasmapool
