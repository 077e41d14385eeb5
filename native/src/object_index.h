// The native object table (docs/object-table.md §2): one fixed-size record per local object, in
// one open-addressing hash table keyed by the 20-byte id, the pins held on them and the global
// LRU of evictable objects (an intrusive list through the records). No JS object per stored
// object; records never move while published (clients hold slot numbers), the hash table stores
// slot numbers only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <vector>

namespace plasmapool {

constexpr size_t kObjectIdBytes = 20;

struct ObjectRecord {
  uint8_t id[kObjectIdBytes];
  uint32_t flags;        // kRecord*
  uint32_t clientPins;   // local connections holding it (at most one pin each, §3.6)
  uint32_t creator;      // client that created it, while not sealed
  uint64_t offset;       // data offset in the region
  uint64_t dataSize;
  uint64_t metadataSize;
  uint8_t digest[8];
  uint32_t lruPrev;      // the global LRU (kRecordInLru), towards the least recently used end
  uint32_t lruNext;
  uint32_t createTime;   // Unix seconds
  int32_t constructDuration;  // seconds from create to seal; -1 while unsealed
  uint32_t hostPins;     // pins TypeScript holds for others (peers' leases)
  uint32_t indexSlot;    // its record in the region's crash-recovery index, or kNone
  uint8_t reserved[8];
};
static_assert(sizeof(ObjectRecord) == 96, "a record and a half cache line");

constexpr uint32_t kRecordInUse = 1;
// Deleted while pinned (§3.8): the last release must reach TypeScript before the next request.
constexpr uint32_t kRecordDeletePending = 2;
// Sealed: immutable, served by Get and Contains. Without it the record is an unsealed object.
constexpr uint32_t kRecordSealed = 4;
// Owned by a client with a quota: TypeScript's per-client LRU orders it, not the global one, and
// TypeScript hears of its pins (it counts "shared for read" bytes).
constexpr uint32_t kRecordQuotaOwned = 8;
// In the global LRU (sealed, unpinned, not quota-owned).
constexpr uint32_t kRecordInLru = 16;
// TypeScript keeps an entry of its own for it (an unsealed object it created, a replica of a
// peer's object): requests that change it beyond pins go to TypeScript.
constexpr uint32_t kRecordTsEntry = 32;

class ObjectIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  ObjectIndex();

  // Slot of the record with this id, or kNone.
  uint32_t Find(const uint8_t* id) const;
  // A new record; kNone if the id is already present.
  uint32_t Insert(const uint8_t* id, uint64_t offset, uint64_t dataSize, uint64_t metadataSize,
                  const uint8_t* digest, uint32_t flags, uint32_t creator);
  // Remove the record (its pins must have been dropped by the caller).
  void Erase(uint32_t slot);

  ObjectRecord& at(uint32_t slot) { return records_[slot]; }
  const ObjectRecord& at(uint32_t slot) const { return records_[slot]; }
  size_t size() const { return count_; }
  // Every slot below this bound that holds a record has kRecordInUse set.
  uint32_t slotBound() const { return static_cast<uint32_t>(records_.size()); }
  static uint32_t Pins(const ObjectRecord& r) { return r.clientPins + r.hostPins; }

  // ---- the global LRU of evictable objects (most recently used at the back)
  void LruPushBack(uint32_t slot);
  void LruRemove(uint32_t slot);
  uint32_t LruFront() const { return lruHead_; }
  size_t lruCount() const { return lruCount_; }
  uint64_t lruBytes() const { return lruBytes_; }

  // ---- client connections and their pins
  uint32_t AddClient();
  bool HasClient(uint32_t client) const { return client < clients_.size() && clients_[client].active; }
  void SetFdSent(uint32_t client) { clients_[client].fdSent = true; }
  bool FdSent(uint32_t client) const { return clients_[client].fdSent; }
  // Whether this client's creates may be served natively (false for a client with a quota).
  void SetCreates(uint32_t client, bool allowed) { clients_[client].creates = allowed; }
  bool Creates(uint32_t client) const { return clients_[client].creates; }
  // True if this took the client's first pin on the record.
  bool Pin(uint32_t client, uint32_t slot);
  // True if the client held it (and now does not).
  bool Unpin(uint32_t client, uint32_t slot);
  bool Holds(uint32_t client, uint32_t slot) const;
  // Drop every client's pin on the record (before Erase of a record that is still pinned).
  void UnpinAll(uint32_t slot);
  // Drop every pin of the client and forget it; appends the slots whose last pin went, and the
  // unsealed records it was creating (for the caller to erase).
  void DropClient(uint32_t client, std::vector<uint32_t>* released, std::vector<uint32_t>* creating);
  // Unsealed records a client is creating (given up when it disconnects, §8).
  void AddCreating(uint32_t client, uint32_t slot) { clients_[client].creating.insert(slot); }
  void RemoveCreating(uint32_t client, uint32_t slot) {
    if (client < clients_.size()) clients_[client].creating.erase(slot);
  }

 private:
  struct Client {
    bool active = false;
    bool fdSent = false;
    bool creates = true;
    std::unordered_set<uint32_t> held;
    std::unordered_set<uint32_t> creating;
  };

  uint64_t Hash(const uint8_t* id) const;
  void Grow();

  std::vector<ObjectRecord> records_;
  std::vector<uint32_t> freeRecords_;
  std::vector<uint32_t> table_;  // slot numbers, kNone = empty; power-of-two size
  size_t count_ = 0;
  uint64_t seed_;
  std::vector<Client> clients_;
  std::vector<uint32_t> freeClients_;
  uint32_t lruHead_ = kNone;
  uint32_t lruTail_ = kNone;
  size_t lruCount_ = 0;
  uint64_t lruBytes_ = 0;
};

}  // namespace plasmapool
