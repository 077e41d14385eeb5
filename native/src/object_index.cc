#include "object_index.h"

#include <cstring>
#include <random>

namespace plasmapool {

namespace {

uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

}  // namespace

ObjectIndex::ObjectIndex() : table_(1024, kNone) {
  // Ids are chosen by clients: a per-store random seed keeps one from aiming for collisions.
  std::random_device rd;
  seed_ = (uint64_t{rd()} << 32) ^ rd();
}

uint64_t ObjectIndex::Hash(const uint8_t* id) const {
  uint32_t tail;
  memcpy(&tail, id + 16, 4);
  return Mix(Load64(id) ^ seed_) ^ Mix(Load64(id + 8) + tail + seed_);
}

uint32_t ObjectIndex::Find(const uint8_t* id) const {
  size_t mask = table_.size() - 1;
  for (size_t i = Hash(id) & mask;; i = (i + 1) & mask) {
    uint32_t slot = table_[i];
    if (slot == kNone) return kNone;
    if (memcmp(records_[slot].id, id, kObjectIdBytes) == 0) return slot;
  }
}

uint32_t ObjectIndex::Insert(const uint8_t* id, uint64_t offset, uint64_t dataSize, uint64_t metadataSize,
                             const uint8_t* digest, uint32_t flags, uint32_t creator) {
  if (Find(id) != kNone) return kNone;
  if ((count_ + 1) * 10 > table_.size() * 7) Grow();
  uint32_t slot;
  if (!freeRecords_.empty()) {
    slot = freeRecords_.back();
    freeRecords_.pop_back();
  } else {
    slot = static_cast<uint32_t>(records_.size());
    records_.emplace_back();
  }
  ObjectRecord& r = records_[slot];
  memset(&r, 0, sizeof(r));
  memcpy(r.id, id, kObjectIdBytes);
  r.flags = kRecordInUse | (flags & ~kRecordInLru);
  r.creator = creator;
  r.lruPrev = r.lruNext = kNone;
  r.indexSlot = kNone;
  r.constructDuration = -1;
  r.offset = offset;
  r.dataSize = dataSize;
  r.metadataSize = metadataSize;
  if (digest != nullptr) memcpy(r.digest, digest, sizeof(r.digest));
  size_t mask = table_.size() - 1;
  size_t i = Hash(id) & mask;
  while (table_[i] != kNone) i = (i + 1) & mask;
  table_[i] = slot;
  count_++;
  return slot;
}

void ObjectIndex::Erase(uint32_t slot) {
  LruRemove(slot);
  size_t mask = table_.size() - 1;
  size_t i = Hash(records_[slot].id) & mask;
  while (table_[i] != slot) i = (i + 1) & mask;
  // Backward-shift deletion: no tombstones, probe chains stay short.
  for (size_t j = (i + 1) & mask; table_[j] != kNone; j = (j + 1) & mask) {
    size_t home = Hash(records_[table_[j]].id) & mask;
    // Move j into the hole at i if its home is not in (i, j] (cyclically).
    bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!between) {
      table_[i] = table_[j];
      i = j;
    }
  }
  table_[i] = kNone;
  records_[slot].flags = 0;
  freeRecords_.push_back(slot);
  count_--;
}

void ObjectIndex::Grow() {
  std::vector<uint32_t> old;
  old.swap(table_);
  table_.assign(old.size() * 2, kNone);
  size_t mask = table_.size() - 1;
  for (uint32_t slot : old) {
    if (slot == kNone) continue;
    size_t i = Hash(records_[slot].id) & mask;
    while (table_[i] != kNone) i = (i + 1) & mask;
    table_[i] = slot;
  }
}

void ObjectIndex::LruPushBack(uint32_t slot) {
  ObjectRecord& r = records_[slot];
  if (r.flags & kRecordInLru) LruRemove(slot);
  r.flags |= kRecordInLru;
  r.lruPrev = lruTail_;
  r.lruNext = kNone;
  if (lruTail_ == kNone) lruHead_ = slot;
  else records_[lruTail_].lruNext = slot;
  lruTail_ = slot;
  lruCount_++;
  lruBytes_ += r.dataSize + r.metadataSize;
}

void ObjectIndex::LruRemove(uint32_t slot) {
  ObjectRecord& r = records_[slot];
  if (!(r.flags & kRecordInLru)) return;
  if (r.lruPrev == kNone) lruHead_ = r.lruNext;
  else records_[r.lruPrev].lruNext = r.lruNext;
  if (r.lruNext == kNone) lruTail_ = r.lruPrev;
  else records_[r.lruNext].lruPrev = r.lruPrev;
  r.lruPrev = r.lruNext = kNone;
  r.flags &= ~kRecordInLru;
  lruCount_--;
  lruBytes_ -= r.dataSize + r.metadataSize;
}

uint32_t ObjectIndex::AddClient() {
  uint32_t id;
  if (!freeClients_.empty()) {
    id = freeClients_.back();
    freeClients_.pop_back();
  } else {
    id = static_cast<uint32_t>(clients_.size());
    clients_.emplace_back();
  }
  clients_[id].active = true;
  clients_[id].fdSent = false;
  clients_[id].creates = true;
  clients_[id].held.clear();
  clients_[id].creating.clear();
  return id;
}

bool ObjectIndex::Pin(uint32_t client, uint32_t slot) {
  if (!clients_[client].held.insert(slot).second) return false;
  records_[slot].clientPins++;
  return true;
}

bool ObjectIndex::Unpin(uint32_t client, uint32_t slot) {
  if (clients_[client].held.erase(slot) == 0) return false;
  records_[slot].clientPins--;
  return true;
}

bool ObjectIndex::Holds(uint32_t client, uint32_t slot) const {
  return clients_[client].held.count(slot) != 0;
}

void ObjectIndex::UnpinAll(uint32_t slot) {
  if (records_[slot].clientPins == 0) return;  // the common case: no client to visit
  for (Client& c : clients_) {
    if (c.active && c.held.erase(slot) != 0) records_[slot].clientPins--;
  }
}

void ObjectIndex::DropClient(uint32_t client, std::vector<uint32_t>* released, std::vector<uint32_t>* creating) {
  Client& c = clients_[client];
  for (uint32_t slot : c.held) {
    if (--records_[slot].clientPins == 0 && records_[slot].hostPins == 0) released->push_back(slot);
  }
  c.held.clear();
  creating->assign(c.creating.begin(), c.creating.end());
  c.creating.clear();
  c.active = false;
  freeClients_.push_back(client);
}

}  // namespace plasmapool
