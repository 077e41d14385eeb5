#include "dataplane.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <ctime>

#include "addon_data.h"
#include "allocator.h"
#include "mapping.h"
#include "channel.h"
#include "errors.h"
#include "js_args.h"
#include "loop_callback.h"

namespace plasmapool {

Napi::Function DataPlane::Init(Napi::Env env) {
  return DefineClass(env, "NativeDataPlane",
                     {
                         InstanceMethod<&DataPlane::AddClient>("addClient"),
                         InstanceMethod<&DataPlane::DropClient>("dropClient"),
                         InstanceMethod<&DataPlane::SetFdSent>("setFdSent"),
                         InstanceMethod<&DataPlane::Publish>("publish"),
                         InstanceMethod<&DataPlane::Unpublish>("unpublish"),
                         InstanceMethod<&DataPlane::Pin>("pin"),
                         InstanceMethod<&DataPlane::Unpin>("unpin"),
                         InstanceMethod<&DataPlane::Holds>("holds"),
                         InstanceMethod<&DataPlane::SetDeletePending>("setDeletePending"),
                         InstanceMethod<&DataPlane::Digest>("digest"),
                         InstanceMethod<&DataPlane::Seal>("seal"),
                         InstanceMethod<&DataPlane::Allocate>("allocate"),
                         InstanceMethod<&DataPlane::AddAllocated>("addAllocated"),
                         InstanceMethod<&DataPlane::Free>("free"),
                         InstanceMethod<&DataPlane::SetCreates>("setCreates"),
                         InstanceMethod<&DataPlane::SetClientCreates>("setClientCreates"),
                         InstanceMethod<&DataPlane::SetPromptSeals>("setPromptSeals"),
                         InstanceMethod<&DataPlane::SetDeletes>("setDeletes"),
                         InstanceMethod<&DataPlane::AttachIndex>("attachIndex"),
                         InstanceAccessor<&DataPlane::GetAllocated>("allocated"),
                         InstanceMethod<&DataPlane::Pins>("pins"),
                         InstanceMethod<&DataPlane::PinHost>("pinHost"),
                         InstanceMethod<&DataPlane::UnpinHost>("unpinHost"),
                         InstanceMethod<&DataPlane::Lookup>("lookup"),
                         InstanceMethod<&DataPlane::Records>("records"),
                         InstanceMethod<&DataPlane::SetQuotaOwned>("setQuotaOwned"),
                         InstanceMethod<&DataPlane::SetTsEntry>("setTsEntry"),
                         InstanceMethod<&DataPlane::SetIndexSlot>("setIndexSlot"),
                         InstanceMethod<&DataPlane::LruTouch>("lruTouch"),
                         InstanceMethod<&DataPlane::LruChoose>("lruChoose"),
                         InstanceAccessor<&DataPlane::GetLruCount>("lruCount"),
                         InstanceAccessor<&DataPlane::GetLruBytes>("lruBytes"),
                         InstanceMethod<&DataPlane::TakeEvents>("takeEvents"),
                         InstanceAccessor<&DataPlane::GetSize>("size"),
                         InstanceAccessor<&DataPlane::GetServed>("served"),
                         InstanceAccessor<&DataPlane::GetEvictedNatively>("evictedNatively"),
                     });
}

DataPlane::DataPlane(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DataPlane>(info) {
  if (info.Length() < 1 || !IsConstructToken(info[0])) {
    ThrowTypeError(info.Env(), "NativeDataPlane cannot be constructed directly: use createDataPlane()");
  }
}

Napi::Value DataPlane::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t segmentId = 0, mmapSize = 0, capacity = 0;
  Napi::Function onEvents;
  if (!ToSize(env, info[0], "segmentId", &segmentId) || !ToSize(env, info[1], "mmapSize", &mmapSize) ||
      !ToSize(env, info[3], "capacity", &capacity) || !ToFunction(env, info[5], "onEvents", &onEvents)) {
    return Napi::Value();
  }
  if (!info[4].IsObject() || !info[4].As<Napi::Object>().InstanceOf(GetAddonData(env)->mappingCtor.Value())) {
    if (!env.IsExceptionPending()) ThrowTypeError(env, "createDataPlane(): mapping must be the region's NativeMapping");
    return Napi::Value();
  }
  Mapping* mapping = Mapping::Unwrap(info[4].As<Napi::Object>());
  if (mapping == nullptr || mapping->base() == nullptr) return Napi::Value();
  if (!info[2].IsObject() || !info[2].As<Napi::Object>().InstanceOf(GetAddonData(env)->allocatorCtor.Value())) {
    if (!env.IsExceptionPending()) ThrowTypeError(env, "createDataPlane(): allocator must be a NativeAllocator");
    return Napi::Value();
  }
  Allocator* allocator = Allocator::Unwrap(info[2].As<Napi::Object>());
  if (allocator == nullptr || allocator->core() == nullptr) return Napi::Value();
  if (segmentId > INT32_MAX) {
    ThrowRangeError(env, "createDataPlane(): segmentId must fit in an int32 (§2.3)");
    return Napi::Value();
  }
  Napi::Object obj = GetAddonData(env)->dataPlaneCtor.New({ConstructToken(env)});
  if (obj.IsEmpty() || env.IsExceptionPending()) return Napi::Value();
  DataPlane* self = DataPlane::Unwrap(obj);
  self->segmentId_ = static_cast<int32_t>(segmentId);
  self->mmapSize_ = static_cast<int64_t>(mmapSize);
  self->onEvents_ = Napi::Persistent(onEvents);
  self->allocator_ = allocator->core();
  self->allocatorRef_ = Napi::Persistent(info[2].As<Napi::Object>());
  self->capacity_ = capacity;
  self->mapping_ = mapping;
  self->mappingRef_ = Napi::Persistent(info[4].As<Napi::Object>());
  self->asyncContext_ = std::make_unique<Napi::AsyncContext>(env, "PlasmapoolDataPlane", obj);
  return obj;
}

// ---- the hot path ----------------------------------------------------------------------------

bool DataPlane::TryHandle(Channel* channel, uint32_t client, int64_t type, const uint8_t* body, size_t length) {
  if (!index_.HasClient(client)) return false;
  bool served = false;
  switch (type) {
    case kGetRequest:
      served = ServeGet(channel, client, body, length);
      break;
    case kReleaseRequest:
      served = ServeRelease(client, body, length);
      break;
    case kContainsRequest:
      served = ServeContains(channel, body, length);
      break;
    case kCreateRequest:
      served = ServeCreate(channel, client, body, length);
      break;
    case kSealRequest:
      served = ServeSeal(channel, client, body, length);
      break;
    case kCreateAndSealRequest:
      served = ServeCreateAndSeal(channel, client, body, length);
      break;
    case kCreateAndSealBatchRequest:
      served = ServeCreateAndSealBatch(channel, client, body, length);
      break;
    case kAbortRequest:
      served = ServeAbort(channel, client, body, length);
      break;
    case kDeleteRequest:
      served = ServeDelete(channel, body, length);
      break;
    default:
      break;
  }
  if (served) served_++;
  return served;
}

bool DataPlane::ServeGet(Channel* channel, uint32_t client, const uint8_t* body, size_t length) {
  int64_t timeoutMs;
  if (!ParseGetRequest(body, length, &ids_, &timeoutMs)) return false;
  // §3.6: 0 answers at once, and so does any negative timeout but -1 (wait for ever).
  bool immediate = timeoutMs == 0 || (timeoutMs < 0 && timeoutMs != -1);
  locations_.clear();
  slots_.clear();  // the found records, pinned once every position is known to be ours
  for (const uint8_t* id : ids_) {
    uint32_t slot = index_.Find(id);
    if (slot == ObjectIndex::kNone || !(index_.at(slot).flags & kRecordSealed)) {
      // Not here (or unsealed): waiting, restoring and asking peers are TS's; a get that answers
      // at once answers "not available" here when nobody else could know of the object.
      if (!immediate || !MissesAreFinal()) return false;
      locations_.push_back({0, 0, 0, false});
      continue;
    }
    // The reply carries no descriptor: an object only for a connection that already has the
    // region's (§4.2).
    if (!index_.FdSent(client)) return false;
    const ObjectRecord& r = index_.at(slot);
    locations_.push_back({r.offset, r.dataSize, r.metadataSize});
    slots_.push_back(slot);
  }
  for (uint32_t slot : slots_) {
    bool first = ObjectIndex::Pins(index_.at(slot)) == 0;
    if (index_.Pin(client, slot) && first) AfterFirstPin(slot, false);
  }
  EncodeGetReply(ids_, locations_, segmentId_, mmapSize_, &reply_);
  channel->WriteReply(kGetReply, reply_.data(), reply_.size());
  return true;
}

bool DataPlane::ServeRelease(uint32_t client, const uint8_t* body, size_t length) {
  const uint8_t* id;
  if (!ParseSingleIdRequest(body, length, &id)) return false;
  uint32_t slot = index_.Find(id);
  if (slot == ObjectIndex::kNone || !index_.Unpin(client, slot)) return false;
  if (ObjectIndex::Pins(index_.at(slot)) == 0) AfterLastUnpin(slot, false);
  return true;  // §3.7: no reply
}

bool DataPlane::ServeContains(Channel* channel, const uint8_t* body, size_t length) {
  const uint8_t* id;
  if (!ParseSingleIdRequest(body, length, &id)) return false;
  uint32_t slot = index_.Find(id);
  bool sealed = slot != ObjectIndex::kNone && (index_.at(slot).flags & kRecordSealed);
  // Polling for an object that is not there yet is a hot request too; "no" is ours to say only
  // when nobody else could know of the object.
  if (!sealed && !MissesAreFinal()) return false;
  EncodeContainsReply(id, sealed, &reply_);
  channel->WriteReply(kContainsReply, reply_.data(), reply_.size());
  return true;
}

bool DataPlane::ServeCreate(Channel* channel, uint32_t client, const uint8_t* body, size_t length) {
  // Only what needs no judgement: a single node without external store, a client without quota,
  // that already has the region's descriptor, host memory, and an allocation that fits, after
  // evictions nobody must hear of (AllocateEvicting). Everything else (and every error reply) is
  // TypeScript's.
  if (!creates_ || !index_.Creates(client) || !index_.FdSent(client)) return false;
  CreateRequest request;
  if (!ParseCreateRequest(body, length, &request) || request.deviceNum != 0) return false;
  constexpr uint64_t kMaxSafe = (uint64_t{1} << 53) - 1;
  if (request.dataSize > kMaxSafe || request.metadataSize > kMaxSafe - request.dataSize) return false;
  if (index_.Find(request.id) != ObjectIndex::kNone) return false;
  uint64_t size = request.dataSize + request.metadataSize;
  uint64_t offset = AllocateEvicting(size, request.evictIfFull);
  if (offset == BestFitAllocator::kNoSpace) return false;
  uint32_t slot = index_.Insert(request.id, offset, request.dataSize, request.metadataSize, nullptr, 0, client);
  index_.at(slot).createTime = static_cast<uint32_t>(time(nullptr));
  index_.Pin(client, slot);  // the creator's reference (§3.2)
  index_.AddCreating(client, slot);  // given up if the creator disconnects before sealing (§8)
  EncodeCreateReply(request.id, {offset, request.dataSize, request.metadataSize}, segmentId_, mmapSize_, &reply_);
  channel->WriteReply(kCreateReply, reply_.data(), reply_.size());
  return true;
}

bool DataPlane::ServeSeal(Channel* channel, uint32_t client, const uint8_t* body, size_t length) {
  if (!creates_) return false;  // in a cluster the id's claim settles the seal
  const uint8_t* id;
  const uint8_t* digest;
  if (!ParseSealRequest(body, length, &id, &digest)) return false;
  uint32_t slot = index_.Find(id);
  if (slot == ObjectIndex::kNone) return false;
  ObjectRecord& r = index_.at(slot);
  // An object TypeScript created keeps its bookkeeping there (claims, quotas): TS seals it.
  if ((r.flags & (kRecordSealed | kRecordTsEntry)) || r.creator != client) return false;
  r.flags |= kRecordSealed;
  memcpy(r.digest, digest, sizeof(r.digest));
  r.constructDuration = static_cast<int32_t>(static_cast<uint32_t>(time(nullptr)) - r.createTime);
  index_.RemoveCreating(client, slot);
  IndexSealed(slot);
  if (promptSeals_) {
    // Subscribers or waiting gets hear of it before this connection's next request is read.
    QueueEvent(kEventSealed, id, &r, client);
    urgent_ = true;
  }
  if (ObjectIndex::Pins(r) == 0) AfterLastUnpin(slot, false);
  EncodeSealReply(id, &reply_);
  channel->WriteReply(kSealReply, reply_.data(), reply_.size());
  return true;
}

bool DataPlane::ServeCreateAndSeal(Channel* channel, uint32_t client, const uint8_t* body, size_t length) {
  // Same conditions as Create (no descriptor is sent with this reply, so none is needed).
  if (!creates_ || !index_.Creates(client)) return false;
  CreateAndSealRequest request;
  // Asked at each use: after the region is closed the mapping has no memory, and TS answers.
  uint8_t* base = mapping_->base();
  if (base == nullptr || !ParseCreateAndSealRequest(body, length, &request)) return false;
  if (index_.Find(request.id) != ObjectIndex::kNone) return false;
  uint64_t size = uint64_t{request.dataSize} + request.metadataSize;
  uint64_t offset = AllocateEvicting(size, request.evictIfFull);
  if (offset == BestFitAllocator::kNoSpace) return false;
  if (offset + size > mapping_->length()) {  // the allocator works inside the region; never write outside it
    FreeBytes(offset, size);
    return false;
  }
  if (request.dataSize > 0) memcpy(base + offset, request.data, request.dataSize);
  if (request.metadataSize > 0) memcpy(base + offset + request.dataSize, request.metadata, request.metadataSize);
  uint32_t slot = index_.Insert(request.id, offset, request.dataSize, request.metadataSize, request.digest, kRecordSealed, client);
  ObjectRecord& r = index_.at(slot);
  r.createTime = static_cast<uint32_t>(time(nullptr));
  r.constructDuration = 0;
  IndexSealed(slot);
  // As a Create then a Seal by this client, which holds no reference afterwards (§3.4).
  if (promptSeals_) {
    QueueEvent(kEventSealed, request.id, &r, client);
    urgent_ = true;
  }
  AfterLastUnpin(slot, false);
  EncodeCreateAndSealReply(&reply_);
  channel->WriteReply(kCreateAndSealReply, reply_.data(), reply_.size());
  return true;
}

bool DataPlane::ServeCreateAndSealBatch(Channel* channel, uint32_t client, const uint8_t* body, size_t length) {
  // As CreateAndSeal, all or nothing (§3.5). While anyone listens for seals, TypeScript sends the
  // batch's one notification frame; any id already known, or memory that does not fit, is TS's too.
  if (!creates_ || promptSeals_ || !index_.Creates(client)) return false;
  uint8_t* base = mapping_->base();
  if (base == nullptr || !ParseCreateAndSealBatchRequest(body, length, &batch_)) return false;
  slots_.clear();
  bool ok = true;
  for (const BatchItem& item : batch_) {
    uint64_t size = uint64_t{item.dataSize} + item.metadataSize;
    uint64_t offset = index_.Find(item.id) == ObjectIndex::kNone ? AllocateBytes(size) : BestFitAllocator::kNoSpace;
    if (offset == BestFitAllocator::kNoSpace) {
      ok = false;
      break;
    }
    uint32_t slot = offset + size <= mapping_->length()
                        ? index_.Insert(item.id, offset, item.dataSize, item.metadataSize, nullptr, 0, client)
                        : ObjectIndex::kNone;
    if (slot == ObjectIndex::kNone) {  // an id twice in the batch, or outside the region
      FreeBytes(offset, size);
      ok = false;
      break;
    }
    slots_.push_back(slot);
  }
  if (!ok) {  // nothing happened: TypeScript answers (and evicts, if the client asked)
    for (uint32_t slot : slots_) EraseRecord(slot);
    return false;
  }
  uint32_t now = static_cast<uint32_t>(time(nullptr));
  for (size_t i = 0; i < batch_.size(); i++) {
    const BatchItem& item = batch_[i];
    ObjectRecord& r = index_.at(slots_[i]);
    if (item.dataSize > 0) memcpy(base + r.offset, item.data, item.dataSize);
    if (item.metadataSize > 0) memcpy(base + r.offset + item.dataSize, item.metadata, item.metadataSize);
    // Kept as given (§3.5) when it has the record's 8 bytes; zero otherwise, as TypeScript's seal.
    if (item.digestSize == 8) memcpy(r.digest, item.digest, 8);
    r.flags |= kRecordSealed;
    r.createTime = now;
    r.constructDuration = 0;
    IndexSealed(slots_[i]);
    AfterLastUnpin(slots_[i], false);
  }
  EncodeCreateAndSealBatchReply(&reply_);
  channel->WriteReply(kCreateAndSealBatchReply, reply_.data(), reply_.size());
  return true;
}

bool DataPlane::ServeAbort(Channel* channel, uint32_t client, const uint8_t* body, size_t length) {
  const uint8_t* id;
  if (!ParseSingleIdRequest(body, length, &id)) return false;
  uint32_t slot = index_.Find(id);
  // Only the plain case: an unsealed object this client created natively. Everything else (an
  // object TypeScript created, memory of a refused seal, an abort of what it is not creating) is TS's.
  if (slot == ObjectIndex::kNone) return false;
  const ObjectRecord& r = index_.at(slot);
  if ((r.flags & (kRecordSealed | kRecordTsEntry | kRecordQuotaOwned)) || r.creator != client) return false;
  // No notification, and gets waiting for this id keep waiting (§3.12).
  index_.RemoveCreating(client, slot);
  index_.UnpinAll(slot);
  EraseRecord(slot);
  EncodeAbortReply(id, &reply_);
  channel->WriteReply(kAbortReply, reply_.data(), reply_.size());
  return true;
}

bool DataPlane::ServeDelete(Channel* channel, const uint8_t* body, size_t length) {
  // Natively only when nobody must hear of it (no subscriber: a deletion notification; no cluster:
  // an announcement) and every id is a plain record of the native table.
  if (!deletes_ || promptSeals_ || !ParseDeleteRequest(body, length, &ids_)) return false;
  for (const uint8_t* id : ids_) {
    uint32_t slot = index_.Find(id);
    if (slot == ObjectIndex::kNone || (index_.at(slot).flags & (kRecordTsEntry | kRecordQuotaOwned))) return false;
  }
  errors_.clear();
  for (const uint8_t* id : ids_) {
    // As TypeScript's delete (§3.8): a repeated id is not found the second time.
    uint32_t slot = index_.Find(id);
    if (slot == ObjectIndex::kNone) {
      errors_.push_back(2);  // ObjectNotFound
      continue;
    }
    ObjectRecord& r = index_.at(slot);
    if (!(r.flags & kRecordSealed)) {
      r.flags |= kRecordDeletePending;
      errors_.push_back(4);  // ObjectNotSealed
    } else if (ObjectIndex::Pins(r) > 0) {
      r.flags |= kRecordDeletePending;
      errors_.push_back(5);  // ObjectInUse
    } else {
      EraseRecord(slot);
      errors_.push_back(0);
    }
  }
  EncodeDeleteReply(ids_, errors_, &reply_);
  channel->WriteReply(kDeleteReply, reply_.data(), reply_.size());
  return true;
}

void DataPlane::EraseRecord(uint32_t slot) {
  ObjectRecord& r = index_.at(slot);
  uint64_t offset = r.offset, size = r.dataSize + r.metadataSize;
  Forget(slot);
  FreeBytes(offset, size);
}

void DataPlane::Forget(uint32_t slot) {
  ObjectRecord& r = index_.at(slot);
  if (r.indexSlot != ObjectIndex::kNone) {
    regionIndex_.Release(r.indexSlot);
    r.indexSlot = ObjectIndex::kNone;
    indexFullReported_ = false;
  }
  index_.Erase(slot);
}

void DataPlane::IndexSealed(uint32_t slot) {
  if (!regionIndex_.attached()) return;
  ObjectRecord& r = index_.at(slot);
  if (r.indexSlot != ObjectIndex::kNone) return;
  uint32_t at = regionIndex_.Add(r.id, r.offset, r.dataSize, r.metadataSize, r.digest, r.createTime);
  if (at != RegionIndexWriter::kNoSlot) {
    r.indexSlot = at;
  } else if (!indexFullReported_) {
    indexFullReported_ = true;  // logged once by TypeScript, until a slot is free again
    QueueEvent(kEventIndexFull, r.id);
  }
}

uint64_t DataPlane::AllocateBytes(uint64_t size) {
  if (size > capacity_ || allocated_ > capacity_ - size) return BestFitAllocator::kNoSpace;
  uint64_t offset = allocator_->Allocate(size);
  if (offset != BestFitAllocator::kNoSpace) allocated_ += size;
  return offset;
}

uint64_t DataPlane::AllocateEvicting(uint64_t size, bool evictIfFull) {
  // Round by round as PlasmaStore.allocate() and EvictionPolicy.requireSpace(): at least a fifth
  // of the capacity from the least recently used end, until it fits or the round fell short.
  for (;;) {
    uint64_t offset = AllocateBytes(size);
    if (offset != BestFitAllocator::kNoSpace || !evictIfFull) return offset;
    // Someone subscribed hears of every eviction (a deletion notification): TypeScript's.
    if (promptSeals_) return BestFitAllocator::kNoSpace;
    double required = static_cast<double>(allocated_) + static_cast<double>(size) - static_cast<double>(capacity_);
    double toFree = std::max(required, std::floor(static_cast<double>(capacity_) / 5));
    double bytes = 0;
    victims_.clear();
    for (uint32_t slot = index_.LruFront(); slot != ObjectIndex::kNone && bytes < toFree; slot = index_.at(slot).lruNext) {
      const ObjectRecord& r = index_.at(slot);
      // An object TypeScript keeps an entry for is TypeScript's to evict: hand over before
      // changing anything in this round.
      if (r.flags & (kRecordTsEntry | kRecordQuotaOwned)) return BestFitAllocator::kNoSpace;
      victims_.push_back(slot);
      bytes += static_cast<double>(r.dataSize + r.metadataSize);
    }
    for (uint32_t slot : victims_) {
      const ObjectRecord& r = index_.at(slot);
      evictedObjects_++;
      evictedBytes_ += static_cast<double>(r.dataSize + r.metadataSize);
      EraseRecord(slot);  // sealed, unpinned: in the LRU means nobody holds it
    }
    if (!(bytes >= required && bytes > 0)) return AllocateBytes(size);
  }
}

void DataPlane::FreeBytes(uint64_t offset, uint64_t size) {
  if (allocator_->Free(offset) == BestFitAllocator::FreeResult::kOk) allocated_ -= size;
}

void DataPlane::AfterFirstPin(uint32_t slot, bool fromJs) {
  ObjectRecord& r = index_.at(slot);
  index_.LruRemove(slot);
  if ((r.flags & kRecordQuotaOwned) && !fromJs) QueueEvent(kEventPinned, r.id);
}

void DataPlane::AfterLastUnpin(uint32_t slot, bool fromJs) {
  ObjectRecord& r = index_.at(slot);
  if (r.flags & (kRecordDeletePending | kRecordQuotaOwned)) {
    if (fromJs) return;  // the caller decides now
    QueueEvent(kEventUnpinned, r.id);
    // The deferred delete happens now, before this connection's next request can see the object.
    if (r.flags & kRecordDeletePending) urgent_ = true;
    return;
  }
  // §13: an unsealed object never enters the LRU, even if its creator released it.
  if (r.flags & kRecordSealed) index_.LruPushBack(slot);
}

void DataPlane::QueueEvent(uint8_t kind, const uint8_t* id, const ObjectRecord* record, uint32_t client) {
  size_t at = events_.size();
  events_.resize(at + kEventBytes, 0);
  uint8_t* e = events_.data() + at;
  e[0] = kind;
  memcpy(e + 1, id, kObjectIdBytes);
  if (record == nullptr) return;
  uint32_t now = static_cast<uint32_t>(time(nullptr));
  memcpy(e + 24, &client, 4);
  memcpy(e + 28, &now, 4);
  memcpy(e + 32, &record->offset, 8);
  memcpy(e + 40, &record->dataSize, 8);
  memcpy(e + 48, &record->metadataSize, 8);
  memcpy(e + 56, record->digest, 8);
}

void DataPlane::FlushEvents() {
  if (events_.empty() || flushing_) return;
  Napi::Env env = Env();
  if (!CanCallJs(env)) return;
  flushing_ = true;
  urgent_ = false;
  Napi::HandleScope scope(env);
  Napi::Buffer<uint8_t> batch = Napi::Buffer<uint8_t>::Copy(env, events_.data(), events_.size());
  events_.clear();
  napi_value args[] = {batch};
  CallFromLoop(env, *asyncContext_, Value(), onEvents_.Value(), 1, args);
  flushing_ = false;
}

// ---- JS methods ------------------------------------------------------------------------------

bool DataPlane::IdArg(const Napi::Value& value, const uint8_t** id) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      value.As<Napi::Uint8Array>().ByteLength() != kObjectIdBytes) {
    ThrowTypeError(Env(), "object id must be a Uint8Array of 20 bytes");
    return false;
  }
  *id = value.As<Napi::Uint8Array>().Data();
  return true;
}

bool DataPlane::ClientArg(const Napi::Value& value, uint32_t* client) {
  uint64_t n = 0;
  if (!ToSize(Env(), value, "client", &n)) return false;
  if (n > UINT32_MAX || !index_.HasClient(static_cast<uint32_t>(n))) {
    ThrowRangeError(Env(), "client " + std::to_string(n) + " is not attached to this data plane");
    return false;
  }
  *client = static_cast<uint32_t>(n);
  return true;
}

Napi::Value DataPlane::AddClient(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // instanceof first: unwrapping another wrapped class as a Channel would be type confusion.
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(GetAddonData(env)->channelCtor.Value())) {
    if (!env.IsExceptionPending()) ThrowTypeError(env, "addClient(channel): channel must be a NativeChannel");
    return Napi::Value();
  }
  Channel* channel = Channel::Unwrap(info[0].As<Napi::Object>());
  if (channel == nullptr) return Napi::Value();
  uint32_t client = index_.AddClient();
  channel->AttachDataPlane(this, Value(), client);
  return Napi::Number::New(env, client);
}

Napi::Value DataPlane::DropClient(const Napi::CallbackInfo& info) {
  uint32_t client;
  if (!ClientArg(info[0], &client)) return Napi::Value();
  std::vector<uint32_t> released, creating;
  index_.DropClient(client, &released, &creating);
  // Objects it was creating go first (§8: no notification); TypeScript gave up its own already.
  for (uint32_t slot : creating) {
    ObjectRecord& r = index_.at(slot);
    if (!(r.flags & kRecordInUse) || (r.flags & (kRecordSealed | kRecordTsEntry))) continue;
    index_.UnpinAll(slot);
    EraseRecord(slot);
  }
  for (uint32_t slot : released) {
    const ObjectRecord& r = index_.at(slot);
    if ((r.flags & kRecordInUse) && ObjectIndex::Pins(r) == 0) AfterLastUnpin(slot, false);
  }
  return info.Env().Undefined();
}

Napi::Value DataPlane::SetFdSent(const Napi::CallbackInfo& info) {
  uint32_t client;
  if (!ClientArg(info[0], &client)) return Napi::Value();
  index_.SetFdSent(client);
  return info.Env().Undefined();
}

Napi::Value DataPlane::Publish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* id;
  uint64_t offset = 0, dataSize = 0, metadataSize = 0;
  if (!IdArg(info[0], &id) || !ToSize(env, info[1], "offset", &offset) ||
      !ToSize(env, info[2], "dataSize", &dataSize) || !ToSize(env, info[3], "metadataSize", &metadataSize)) {
    return Napi::Value();
  }
  const uint8_t* digest = nullptr;
  if (info[4].IsTypedArray() && info[4].As<Napi::Uint8Array>().ByteLength() == 8) digest = info[4].As<Napi::Uint8Array>().Data();
  bool sealed = info[5].ToBoolean().Value();
  uint32_t creator = 0;
  if (!sealed && !ClientArg(info[6], &creator)) return Napi::Value();
  uint64_t createTime = 0, flags = 0;
  if (!ToSize(env, info[7], "createTime", &createTime) || !ToSize(env, info[9], "flags", &flags)) return Napi::Value();
  int32_t constructDuration = info[8].IsNumber() ? info[8].As<Napi::Number>().Int32Value() : -1;
  uint32_t kept = static_cast<uint32_t>(flags) & (kRecordQuotaOwned | kRecordTsEntry | kRecordDeletePending);
  bool indexed = sealed && (flags & kPublishIndexed) != 0;
  uint32_t slot = index_.Insert(id, offset, dataSize, metadataSize, digest, (sealed ? kRecordSealed : 0) | kept, creator);
  if (slot == ObjectIndex::kNone) {
    ThrowError(env, "ERR_EXISTS", "publish(): the object is already published");
    return Napi::Value();
  }
  ObjectRecord& r = index_.at(slot);
  r.createTime = static_cast<uint32_t>(createTime);
  r.constructDuration = sealed ? constructDuration : -1;
  if (!sealed) {
    index_.AddCreating(creator, slot);
  } else {
    if (indexed) IndexSealed(slot);
    AfterLastUnpin(slot, true);  // unpinned: evictable at once (unless quota-owned)
  }
  return env.Undefined();
}

Napi::Value DataPlane::Unpublish(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  if (!IdArg(info[0], &id)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  if (slot == ObjectIndex::kNone) return Napi::Boolean::New(info.Env(), false);
  index_.UnpinAll(slot);
  if (!(index_.at(slot).flags & kRecordSealed)) index_.RemoveCreating(index_.at(slot).creator, slot);
  Forget(slot);
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value DataPlane::Pin(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  uint32_t client;
  if (!IdArg(info[0], &id) || !ClientArg(info[1], &client)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  if (slot == ObjectIndex::kNone) {
    ThrowError(info.Env(), "ERR_NOT_PUBLISHED", "pin(): the object is not published");
    return Napi::Value();
  }
  bool first = ObjectIndex::Pins(index_.at(slot)) == 0;
  bool pinned = index_.Pin(client, slot);
  if (pinned && first) AfterFirstPin(slot, true);
  return Napi::Boolean::New(info.Env(), pinned);
}

Napi::Value DataPlane::Unpin(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  uint32_t client;
  if (!IdArg(info[0], &id) || !ClientArg(info[1], &client)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  if (slot == ObjectIndex::kNone || !index_.Unpin(client, slot)) return Napi::Boolean::New(info.Env(), false);
  if (ObjectIndex::Pins(index_.at(slot)) == 0) AfterLastUnpin(slot, true);
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value DataPlane::Holds(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  uint32_t client;
  if (!IdArg(info[0], &id) || !ClientArg(info[1], &client)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  return Napi::Boolean::New(info.Env(), slot != ObjectIndex::kNone && index_.Holds(client, slot));
}

Napi::Value DataPlane::SetDeletePending(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  if (!IdArg(info[0], &id)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  if (slot != ObjectIndex::kNone) index_.at(slot).flags |= kRecordDeletePending;
  return info.Env().Undefined();
}

Napi::Value DataPlane::Digest(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  if (!IdArg(info[0], &id)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  if (slot == ObjectIndex::kNone || !(index_.at(slot).flags & kRecordSealed)) return info.Env().Null();
  return Napi::Buffer<uint8_t>::Copy(info.Env(), index_.at(slot).digest, 8);
}

Napi::Value DataPlane::Seal(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  if (!IdArg(info[0], &id)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  if (slot == ObjectIndex::kNone) {
    ThrowError(info.Env(), "ERR_NOT_PUBLISHED", "seal(): the object is not published");
    return Napi::Value();
  }
  ObjectRecord& r = index_.at(slot);
  if (!(r.flags & kRecordSealed)) index_.RemoveCreating(r.creator, slot);
  r.flags |= kRecordSealed;
  if (info[1].IsTypedArray() && info[1].As<Napi::Uint8Array>().ByteLength() == 8) {
    memcpy(r.digest, info[1].As<Napi::Uint8Array>().Data(), 8);
  }
  r.constructDuration = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 0;
  if (info[3].ToBoolean().Value()) IndexSealed(slot);
  if (ObjectIndex::Pins(r) == 0) AfterLastUnpin(slot, true);
  return info.Env().Undefined();
}

Napi::Value DataPlane::Allocate(const Napi::CallbackInfo& info) {
  uint64_t size = 0;
  if (!ToSize(info.Env(), info[0], "size", &size)) return Napi::Value();
  uint64_t offset = AllocateBytes(size);
  return Napi::Number::New(info.Env(), offset == BestFitAllocator::kNoSpace ? -1.0 : static_cast<double>(offset));
}

Napi::Value DataPlane::Free(const Napi::CallbackInfo& info) {
  uint64_t offset = 0, size = 0;
  if (!ToSize(info.Env(), info[0], "offset", &offset) || !ToSize(info.Env(), info[1], "size", &size)) return Napi::Value();
  if (allocator_->Free(offset) != BestFitAllocator::FreeResult::kOk) {
    ThrowError(info.Env(), "ERR_NOT_A_BLOCK", "free(" + std::to_string(offset) + "): not an allocated block");
    return Napi::Value();
  }
  allocated_ -= size;
  return info.Env().Undefined();
}

// Blocks reserved in the allocator before the data plane existed (objects recovered from the
// region's index) count towards the capacity from now on.
Napi::Value DataPlane::AddAllocated(const Napi::CallbackInfo& info) {
  uint64_t size = 0;
  if (!ToSize(info.Env(), info[0], "size", &size)) return Napi::Value();
  allocated_ += size;
  return info.Env().Undefined();
}

Napi::Value DataPlane::GetAllocated(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(allocated_));
}

Napi::Value DataPlane::SetCreates(const Napi::CallbackInfo& info) {
  creates_ = info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

Napi::Value DataPlane::SetClientCreates(const Napi::CallbackInfo& info) {
  uint32_t client;
  if (!ClientArg(info[0], &client)) return Napi::Value();
  index_.SetCreates(client, info[1].ToBoolean().Value());
  return info.Env().Undefined();
}

// attachIndex(indexOffset, slots, freeSlots): the region's index area (inside the mapping) and
// its free slots; from here on every seal writes its record natively.
Napi::Value DataPlane::AttachIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset = 0, slots = 0;
  if (!ToSize(env, info[0], "indexOffset", &offset) || !ToSize(env, info[1], "slots", &slots)) return Napi::Value();
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    ThrowTypeError(env, "attachIndex(): freeSlots must be a Uint32Array");
    return Napi::Value();
  }
  uint8_t* base = mapping_->base();
  if (base == nullptr || slots >= UINT32_MAX || offset > mapping_->length() ||
      slots * RegionIndexWriter::kRecordBytes > mapping_->length() - offset) {
    ThrowRangeError(env, "attachIndex(): the index area must lie inside the region's mapping");
    return Napi::Value();
  }
  Napi::Uint32Array free = info[2].As<Napi::Uint32Array>();
  std::vector<uint32_t> freeSlots(free.Data(), free.Data() + free.ElementLength());
  for (uint32_t slot : freeSlots) {
    if (slot >= slots) {
      ThrowRangeError(env, "attachIndex(): free slot " + std::to_string(slot) + " is beyond the index");
      return Napi::Value();
    }
  }
  regionIndex_.Attach(base + offset, static_cast<uint32_t>(slots), std::move(freeSlots));
  return env.Undefined();
}

Napi::Value DataPlane::SetDeletes(const Napi::CallbackInfo& info) {
  deletes_ = info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

Napi::Value DataPlane::SetPromptSeals(const Napi::CallbackInfo& info) {
  promptSeals_ = info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

Napi::Value DataPlane::Pins(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  if (!IdArg(info[0], &id)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  return Napi::Number::New(info.Env(), slot == ObjectIndex::kNone ? 0 : ObjectIndex::Pins(index_.at(slot)));
}

Napi::Value DataPlane::PinHost(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  if (!IdArg(info[0], &id)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  if (slot == ObjectIndex::kNone) {
    ThrowError(info.Env(), "ERR_NOT_PUBLISHED", "pinHost(): the object is not published");
    return Napi::Value();
  }
  if (ObjectIndex::Pins(index_.at(slot)) == 0) AfterFirstPin(slot, true);
  index_.at(slot).hostPins++;
  return info.Env().Undefined();
}

Napi::Value DataPlane::UnpinHost(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  if (!IdArg(info[0], &id)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  if (slot == ObjectIndex::kNone || index_.at(slot).hostPins == 0) return Napi::Boolean::New(info.Env(), false);
  if (--index_.at(slot).hostPins == 0 && index_.at(slot).clientPins == 0) AfterLastUnpin(slot, true);
  return Napi::Boolean::New(info.Env(), true);
}

// What TypeScript needs of one record to decide (docs/object-table.md §1); null if unknown.
Napi::Value DataPlane::Lookup(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  if (!IdArg(info[0], &id)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  Napi::Env env = info.Env();
  if (slot == ObjectIndex::kNone) return env.Null();
  const ObjectRecord& r = index_.at(slot);
  Napi::Object o = Napi::Object::New(env);
  o.Set("flags", Napi::Number::New(env, r.flags));
  o.Set("offset", Napi::Number::New(env, static_cast<double>(r.offset)));
  o.Set("dataSize", Napi::Number::New(env, static_cast<double>(r.dataSize)));
  o.Set("metadataSize", Napi::Number::New(env, static_cast<double>(r.metadataSize)));
  o.Set("createTime", Napi::Number::New(env, r.createTime));
  o.Set("constructDuration", Napi::Number::New(env, r.constructDuration));
  o.Set("creator", Napi::Number::New(env, r.creator));
  o.Set("pins", Napi::Number::New(env, ObjectIndex::Pins(r)));
  o.Set("indexSlot", Napi::Number::New(env, r.indexSlot == ObjectIndex::kNone ? -1.0 : r.indexSlot));
  return o;
}

// Every record, 96 bytes each as ObjectRecord lays them out (src/store/native-records.ts reads them).
Napi::Value DataPlane::Records(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), index_.size() * sizeof(ObjectRecord));
  size_t at = 0;
  for (uint32_t slot = 0; slot < index_.slotBound() && at < out.Length(); slot++) {
    const ObjectRecord& r = index_.at(slot);
    if (!(r.flags & kRecordInUse)) continue;
    ObjectRecord copy = r;
    copy.clientPins = ObjectIndex::Pins(r);
    memcpy(out.Data() + at, &copy, sizeof(copy));
    at += sizeof(copy);
  }
  return out;
}

Napi::Value DataPlane::SetQuotaOwned(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  if (!IdArg(info[0], &id)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  if (slot == ObjectIndex::kNone) return info.Env().Undefined();
  ObjectRecord& r = index_.at(slot);
  if (info[1].ToBoolean().Value()) {
    r.flags |= kRecordQuotaOwned;
    index_.LruRemove(slot);
  } else {
    r.flags &= ~kRecordQuotaOwned;
    if (ObjectIndex::Pins(r) == 0) AfterLastUnpin(slot, true);
  }
  return info.Env().Undefined();
}

Napi::Value DataPlane::SetTsEntry(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  if (!IdArg(info[0], &id)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  if (slot == ObjectIndex::kNone) return info.Env().Undefined();
  if (info[1].ToBoolean().Value()) index_.at(slot).flags |= kRecordTsEntry;
  else index_.at(slot).flags &= ~kRecordTsEntry;
  return info.Env().Undefined();
}

Napi::Value DataPlane::SetIndexSlot(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  if (!IdArg(info[0], &id)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  double value = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  if (slot != ObjectIndex::kNone) index_.at(slot).indexSlot = value < 0 || value >= ObjectIndex::kNone ? ObjectIndex::kNone : static_cast<uint32_t>(value);
  return info.Env().Undefined();
}

// RefreshLRU: to the most recently used end, if it is in the LRU.
Napi::Value DataPlane::LruTouch(const Napi::CallbackInfo& info) {
  const uint8_t* id;
  if (!IdArg(info[0], &id)) return Napi::Value();
  uint32_t slot = index_.Find(id);
  if (slot != ObjectIndex::kNone && (index_.at(slot).flags & kRecordInLru)) index_.LruPushBack(slot);
  return info.Env().Undefined();
}

// Take records from the least recently used end until `bytes` are covered (zero-size ones count
// 0 bytes, §3.11); they leave the LRU. Returns the ids, 20 bytes each, concatenated.
Napi::Value DataPlane::LruChoose(const Napi::CallbackInfo& info) {
  double want = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  std::vector<uint32_t> chosen;
  double bytes = 0;
  for (uint32_t slot = index_.LruFront(); slot != ObjectIndex::kNone && bytes < want; slot = index_.at(slot).lruNext) {
    chosen.push_back(slot);
    bytes += static_cast<double>(index_.at(slot).dataSize + index_.at(slot).metadataSize);
  }
  Napi::Buffer<uint8_t> ids = Napi::Buffer<uint8_t>::New(info.Env(), chosen.size() * kObjectIdBytes);
  for (size_t i = 0; i < chosen.size(); i++) {
    memcpy(ids.Data() + i * kObjectIdBytes, index_.at(chosen[i]).id, kObjectIdBytes);
    index_.LruRemove(chosen[i]);
  }
  return ids;
}

Napi::Value DataPlane::GetLruCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(index_.lruCount()));
}

Napi::Value DataPlane::GetLruBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(index_.lruBytes()));
}

Napi::Value DataPlane::TakeEvents(const Napi::CallbackInfo& info) {
  urgent_ = false;
  if (events_.empty()) return info.Env().Null();
  Napi::Buffer<uint8_t> batch = Napi::Buffer<uint8_t>::Copy(info.Env(), events_.data(), events_.size());
  events_.clear();
  return batch;
}

Napi::Value DataPlane::GetSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(index_.size()));
}

Napi::Value DataPlane::GetServed(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), served_); }

// [objects, bytes] evicted natively so far; TypeScript adds them to its own counts.
Napi::Value DataPlane::GetEvictedNatively(const Napi::CallbackInfo& info) {
  Napi::Array counts = Napi::Array::New(info.Env(), 2);
  counts.Set(uint32_t{0}, Napi::Number::New(info.Env(), evictedObjects_));
  counts.Set(uint32_t{1}, Napi::Number::New(info.Env(), evictedBytes_));
  return counts;
}

}  // namespace plasmapool
