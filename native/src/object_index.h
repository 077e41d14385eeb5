// The native object table (docs/object-table.md §2): one fixed-size record per sealed local
// object, in one open-addressing hash table keyed by the 20-byte id, and the pins local client
// connections hold on them. No JS object per stored object; records never move while published
// (clients hold slot numbers), the hash table stores slot numbers only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <vector>

namespace plasmapool {

constexpr size_t kObjectIdBytes = 20;

struct ObjectRecord {
  uint8_t id[kObjectIdBytes];
  uint32_t flags;        // kRecordInUse
  uint32_t clientPins;   // local connections holding it (at most one pin each, §3.6)
  uint32_t creator;      // client that created it, while not sealed
  uint64_t offset;       // data offset in the region
  uint64_t dataSize;
  uint64_t metadataSize;
  uint8_t digest[8];
};
static_assert(sizeof(ObjectRecord) == 64, "one cache line per record");

constexpr uint32_t kRecordInUse = 1;
// Deleted while pinned (§3.8): the last release must reach TypeScript before the next request.
constexpr uint32_t kRecordDeletePending = 2;
// Sealed: immutable, served by Get and Contains. Without it the record is an unsealed object.
constexpr uint32_t kRecordSealed = 4;

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
  // Drop every pin of the client and forget it; appends the slots whose last pin went.
  void DropClient(uint32_t client, std::vector<uint32_t>* released);

 private:
  struct Client {
    bool active = false;
    bool fdSent = false;
    bool creates = true;
    std::unordered_set<uint32_t> held;
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
};

}  // namespace plasmapool
