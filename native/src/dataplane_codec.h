// Flatbuffer parsing and encoding for the requests the data plane serves natively
// (docs/object-table.md §3). The reader accepts exactly what src/protocol/flatbuffer-verifier.ts
// accepts for these tables, or less: anything it does not accept goes to TypeScript unchanged,
// which keeps one implementation of every protocol error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace plasmapool {

// Message types (plasma-protocol §2.1).
constexpr int64_t kGetRequest = 9;
constexpr int64_t kGetReply = 10;
constexpr int64_t kReleaseRequest = 11;
constexpr int64_t kContainsRequest = 15;
constexpr int64_t kContainsReply = 16;

// PlasmaGetRequest: the ids (pointers to 20 bytes inside body). False if the body is not one the
// TypeScript verifier accepts with ids of exactly 20 bytes, or it has no ids.
bool ParseGetRequest(const uint8_t* body, size_t length, std::vector<const uint8_t*>* ids);
// PlasmaReleaseRequest / PlasmaContainsRequest: one 20-byte id.
bool ParseSingleIdRequest(const uint8_t* body, size_t length, const uint8_t** id);

struct ObjectLocation {
  uint64_t offset;
  uint64_t dataSize;
  uint64_t metadataSize;
};

// PlasmaGetReply with every position found in one segment (§3.6, §2.6: all fields present).
void EncodeGetReply(const std::vector<const uint8_t*>& ids, const std::vector<ObjectLocation>& objects,
                    int32_t segmentId, int64_t mmapSize, std::vector<uint8_t>* out);
// PlasmaContainsReply.
void EncodeContainsReply(const uint8_t* id, bool has, std::vector<uint8_t>* out);

}  // namespace plasmapool
