// DataPlane: the native half of the store (docs/object-table.md). It owns the object index of
// sealed local objects and the pins local connections hold on them, serves Get, Release and
// Contains of those objects straight from a channel's read buffer, and reports what TypeScript's
// policy must learn (first pin, last unpin) as batched events. TypeScript (src/store/data-plane.ts)
// decides everything else and publishes/withdraws records.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane_codec.h"
#include "object_index.h"

namespace plasmapool {

class Channel;

class DataPlane : public Napi::ObjectWrap<DataPlane> {
 public:
  // Event kinds in the batch handed to onEvents (21 bytes each: kind, id).
  static constexpr uint8_t kEventPinned = 1;
  static constexpr uint8_t kEventUnpinned = 2;
  // A batch is flushed at the latest when it holds this many events.
  static constexpr size_t kMaxQueuedEvents = 4096;

  static Napi::Function Init(Napi::Env env);
  // JS: createDataPlane(segmentId, mmapSize, onEvents)
  static Napi::Value Create(const Napi::CallbackInfo& info);

  explicit DataPlane(const Napi::CallbackInfo& info);

  // Called by a channel for each complete frame: true if served here (reply queued on `channel`).
  bool TryHandle(Channel* channel, uint32_t client, int64_t type, const uint8_t* body, size_t length);
  // Hand queued events to TypeScript (one JS call); a no-op when none are queued.
  void FlushEvents();
  bool ShouldFlush() const { return urgent_ || events_.size() >= kMaxQueuedEvents * kEventBytes; }

 private:
  static constexpr size_t kEventBytes = 1 + kObjectIdBytes;

  bool ServeGet(Channel* channel, uint32_t client, const uint8_t* body, size_t length);
  bool ServeRelease(uint32_t client, const uint8_t* body, size_t length);
  bool ServeContains(Channel* channel, const uint8_t* body, size_t length);
  void QueueEvent(uint8_t kind, const uint8_t* id);

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
  Napi::Value Pins(const Napi::CallbackInfo& info);
  Napi::Value TakeEvents(const Napi::CallbackInfo& info);
  Napi::Value GetSize(const Napi::CallbackInfo& info);
  Napi::Value GetServed(const Napi::CallbackInfo& info);

  ObjectIndex index_;
  int32_t segmentId_ = 0;
  int64_t mmapSize_ = 0;
  Napi::FunctionReference onEvents_;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
  std::vector<uint8_t> events_;
  bool flushing_ = false;
  bool urgent_ = false;  // an event whose effect the next request may observe (a deferred delete)
  double served_ = 0;  // requests answered natively (for tests and benchmarks)
  // Scratch space reused across requests (no allocation per message).
  std::vector<const uint8_t*> ids_;
  std::vector<ObjectLocation> locations_;
  std::vector<uint8_t> reply_;
};

}  // namespace plasmapool
