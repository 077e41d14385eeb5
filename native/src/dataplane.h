// DataPlane: the native half of the store (docs/object-table.md). It owns the object table of
// local objects (the only copy of a sealed object's record: TypeScript keeps no entry for it), the
// pins held on them and the global LRU of evictable objects; it serves the hot requests straight
// from a channel's read buffer, and reports what TypeScript's policy must learn (a seal someone
// waits for, the last release of an object deleted while in use, pins of quota-owned objects) as
// batched events. TypeScript (src/store/plasma-store.ts) decides everything else.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "allocator_core.h"
#include "dataplane_codec.h"
#include "object_index.h"
#include "region_index_writer.h"

namespace plasmapool {

class Channel;
class Mapping;

class DataPlane : public Napi::ObjectWrap<DataPlane> {
 public:
  // Events handed to onEvents, 64 bytes each (src/store/data-plane-events.ts reads them):
  //   0 kind, 1..21 id, 24 client (u32), 28 unix seconds (u32), 32 offset, 40 data size,
  //   48 metadata size (u64 each), 56 digest (8 bytes).
  static constexpr uint8_t kEventPinned = 1;    // first pin of a quota-owned record, taken natively
  static constexpr uint8_t kEventUnpinned = 2;  // last pin of a quota-owned or delete-pending record dropped natively
  static constexpr uint8_t kEventSealed = 4;    // a native Seal while someone may wait for one
  static constexpr uint8_t kEventIndexFull = 5;  // a sealed object found no free slot in the region's index
  // publish() flag (not kept in the record): give the sealed object its record in the region's index.
  static constexpr uint32_t kPublishIndexed = 64;
  // A batch is flushed at the latest when it holds this many events.
  static constexpr size_t kMaxQueuedEvents = 4096;

  static Napi::Function Init(Napi::Env env);
  // JS: createDataPlane(segmentId, mmapSize, allocator, capacity, mapping, onEvents)
  static Napi::Value Create(const Napi::CallbackInfo& info);

  explicit DataPlane(const Napi::CallbackInfo& info);

  // Called by a channel for each complete frame: true if served here (reply queued on `channel`).
  bool TryHandle(Channel* channel, uint32_t client, int64_t type, const uint8_t* body, size_t length);
  // Hand queued events to TypeScript (one JS call); a no-op when none are queued.
  void FlushEvents();
  bool ShouldFlush() const { return urgent_ || events_.size() >= kMaxQueuedEvents * kEventBytes; }

 private:
  static constexpr size_t kEventBytes = 64;

  bool ServeGet(Channel* channel, uint32_t client, const uint8_t* body, size_t length);
  bool ServeRelease(uint32_t client, const uint8_t* body, size_t length);
  bool ServeContains(Channel* channel, const uint8_t* body, size_t length);
  bool ServeCreate(Channel* channel, uint32_t client, const uint8_t* body, size_t length);
  bool ServeSeal(Channel* channel, uint32_t client, const uint8_t* body, size_t length);
  bool ServeCreateAndSeal(Channel* channel, uint32_t client, const uint8_t* body, size_t length);
  bool ServeCreateAndSealBatch(Channel* channel, uint32_t client, const uint8_t* body, size_t length);
  bool ServeAbort(Channel* channel, uint32_t client, const uint8_t* body, size_t length);
  bool ServeDelete(Channel* channel, const uint8_t* body, size_t length);
  // Give back a record's memory and the record (nobody pins it).
  void EraseRecord(uint32_t slot);
  // Withdraw a record: its entry in the region's index first (it must never outlive the memory).
  void Forget(uint32_t slot);
  // A record became sealed: write its entry in the region's index before the seal is acknowledged.
  void IndexSealed(uint32_t slot);
  void QueueEvent(uint8_t kind, const uint8_t* id, const ObjectRecord* record = nullptr, uint32_t client = 0);
  // A pin was taken on a record that had none: it is not evictable now.
  void AfterFirstPin(uint32_t slot, bool fromJs);
  // The last pin went: evictable again (LRU), or TypeScript decides (delete pending, quota).
  void AfterLastUnpin(uint32_t slot, bool fromJs);
  // Capacity accounting (§9: exact sizes) and the allocator, shared by both paths.
  uint64_t AllocateBytes(uint64_t size);
  // AllocateBytes, evicting first as TypeScript's allocate() would (§9), where that needs no
  // judgement; kNoSpace hands the request to TypeScript, which goes on from the same state.
  uint64_t AllocateEvicting(uint64_t size, bool evictIfFull);
  void FreeBytes(uint64_t offset, uint64_t size);
  // Whether a missing (or unsealed) record is the whole answer to a Contains or a Get that answers
  // at once. It is when creates are native: on a single node without external store, no evicted
  // object waits in the external store and no peer holds one; otherwise TypeScript answers.
  bool MissesAreFinal() const { return creates_; }

  bool IdArg(const Napi::Value& value, const uint8_t** id);
  bool ClientArg(const Napi::Value& value, uint32_t* client);

  Napi::Value AddClient(const Napi::CallbackInfo& info);
  Napi::Value DropClient(const Napi::CallbackInfo& info);
  Napi::Value SetFdSent(const Napi::CallbackInfo& info);
  Napi::Value Publish(const Napi::CallbackInfo& info);
  Napi::Value Unpublish(const Napi::CallbackInfo& info);
  Napi::Value Pin(const Napi::CallbackInfo& info);
  Napi::Value Unpin(const Napi::CallbackInfo& info);
  Napi::Value Holds(const Napi::CallbackInfo& info);
  Napi::Value SetDeletePending(const Napi::CallbackInfo& info);
  Napi::Value Digest(const Napi::CallbackInfo& info);
  Napi::Value Seal(const Napi::CallbackInfo& info);
  Napi::Value Allocate(const Napi::CallbackInfo& info);
  Napi::Value AddAllocated(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value GetAllocated(const Napi::CallbackInfo& info);
  Napi::Value SetCreates(const Napi::CallbackInfo& info);
  Napi::Value SetClientCreates(const Napi::CallbackInfo& info);
  Napi::Value SetPromptSeals(const Napi::CallbackInfo& info);
  Napi::Value SetDeletes(const Napi::CallbackInfo& info);
  Napi::Value AttachIndex(const Napi::CallbackInfo& info);
  Napi::Value Pins(const Napi::CallbackInfo& info);
  Napi::Value PinHost(const Napi::CallbackInfo& info);
  Napi::Value UnpinHost(const Napi::CallbackInfo& info);
  Napi::Value Lookup(const Napi::CallbackInfo& info);
  Napi::Value Records(const Napi::CallbackInfo& info);
  Napi::Value SetQuotaOwned(const Napi::CallbackInfo& info);
  Napi::Value SetTsEntry(const Napi::CallbackInfo& info);
  Napi::Value SetIndexSlot(const Napi::CallbackInfo& info);
  Napi::Value LruTouch(const Napi::CallbackInfo& info);
  Napi::Value LruChoose(const Napi::CallbackInfo& info);
  Napi::Value GetLruCount(const Napi::CallbackInfo& info);
  Napi::Value GetLruBytes(const Napi::CallbackInfo& info);
  Napi::Value TakeEvents(const Napi::CallbackInfo& info);
  Napi::Value GetSize(const Napi::CallbackInfo& info);
  Napi::Value GetServed(const Napi::CallbackInfo& info);
  Napi::Value GetEvictedNatively(const Napi::CallbackInfo& info);

  ObjectIndex index_;
  RegionIndexWriter regionIndex_;  // a named region's crash-recovery index (docs/recovery.md)
  bool indexFullReported_ = false;
  int32_t segmentId_ = 0;
  int64_t mmapSize_ = 0;
  BestFitAllocator* allocator_ = nullptr;
  Napi::ObjectReference allocatorRef_;  // keeps the allocator alive
  uint64_t capacity_ = 0;
  Mapping* mapping_ = nullptr;          // the region's mapping, for CreateAndSeal's copy
  Napi::ObjectReference mappingRef_;    // keeps the Mapping object (not the memory) alive
  uint64_t allocated_ = 0;
  bool creates_ = false;      // native Create/Seal allowed (single node, no external store)
  bool promptSeals_ = true;   // someone may wait for a seal or listen: deliver it before the next frame
  bool deletes_ = false;      // native Delete allowed (single node; the index, if any, written natively)
  Napi::FunctionReference onEvents_;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
  std::vector<uint8_t> events_;
  bool flushing_ = false;
  bool urgent_ = false;  // an event whose effect the next request may observe (a deferred delete)
  double served_ = 0;  // requests answered natively (for tests and benchmarks)
  double evictedObjects_ = 0;  // evictions carried out natively (TypeScript counts its own)
  double evictedBytes_ = 0;
  // Scratch space reused across requests (no allocation per message).
  std::vector<const uint8_t*> ids_;
  std::vector<ObjectLocation> locations_;
  std::vector<uint32_t> victims_;
  std::vector<uint8_t> reply_;
  std::vector<BatchItem> batch_;
  std::vector<uint32_t> slots_;
  std::vector<int32_t> errors_;
};

}  // namespace plasmapool
