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
constexpr int64_t kCreateRequest = 1;
constexpr int64_t kCreateReply = 2;
constexpr int64_t kCreateAndSealRequest = 3;
constexpr int64_t kCreateAndSealReply = 4;
constexpr int64_t kAbortRequest = 5;
constexpr int64_t kAbortReply = 6;
constexpr int64_t kSealRequest = 7;
constexpr int64_t kSealReply = 8;
constexpr int64_t kGetRequest = 9;
constexpr int64_t kGetReply = 10;
constexpr int64_t kReleaseRequest = 11;
constexpr int64_t kDeleteRequest = 13;
constexpr int64_t kDeleteReply = 14;
constexpr int64_t kContainsRequest = 15;
constexpr int64_t kContainsReply = 16;
constexpr int64_t kCreateAndSealBatchRequest = 32;
constexpr int64_t kCreateAndSealBatchReply = 33;

// PlasmaGetRequest: the ids (pointers to 20 bytes inside body) and timeout_ms (0 when absent).
// False if the body is not one the TypeScript verifier accepts with ids of exactly 20 bytes, or it
// has no ids.
bool ParseGetRequest(const uint8_t* body, size_t length, std::vector<const uint8_t*>* ids, int64_t* timeoutMs);
// PlasmaReleaseRequest / PlasmaContainsRequest: one 20-byte id.
bool ParseSingleIdRequest(const uint8_t* body, size_t length, const uint8_t** id);

struct CreateRequest {
  const uint8_t* id;
  bool evictIfFull;
  uint64_t dataSize;
  uint64_t metadataSize;
  int32_t deviceNum;
};
bool ParseCreateRequest(const uint8_t* body, size_t length, CreateRequest* request);
// PlasmaSealRequest with an 8-byte digest.
bool ParseSealRequest(const uint8_t* body, size_t length, const uint8_t** id, const uint8_t** digest);

struct CreateAndSealRequest {
  const uint8_t* id;
  bool evictIfFull;
  const uint8_t* data;
  uint32_t dataSize;
  const uint8_t* metadata;
  uint32_t metadataSize;
  const uint8_t* digest;  // 8 bytes
};
bool ParseCreateAndSealRequest(const uint8_t* body, size_t length, CreateAndSealRequest* request);

// PlasmaDeleteRequest: count equal to the number of ids (as the TS decoder requires), ids of 20
// bytes, at least one.
bool ParseDeleteRequest(const uint8_t* body, size_t length, std::vector<const uint8_t*>* ids);

// PlasmaCreateAndSealBatchRequest: the four vectors of equal length (at least one object), ids of
// 20 bytes; digests of any length (§3.5: Arrow's client sends meaningless ones), kept as given.
// `digest` points at `digestSize` bytes here.
struct BatchItem : CreateAndSealRequest {
  uint32_t digestSize;
};
bool ParseCreateAndSealBatchRequest(const uint8_t* body, size_t length, std::vector<BatchItem>* items);

struct ObjectLocation {
  uint64_t offset;
  uint64_t dataSize;
  uint64_t metadataSize;
  bool found = true;  // false: a Get position answered "not available" (§3.6)
};

// PlasmaGetReply (§3.6, §2.6: all fields present). Found positions lie in one segment, which
// store_fds and mmap_sizes then list once; a position not found carries the not-available spec,
// and with none found both lists are empty, as TypeScript's reply.
void EncodeGetReply(const std::vector<const uint8_t*>& ids, const std::vector<ObjectLocation>& objects,
                    int32_t segmentId, int64_t mmapSize, std::vector<uint8_t>* out);
// PlasmaCreateReply of a successful create (error OK, no CUDA handle).
void EncodeCreateReply(const uint8_t* id, const ObjectLocation& object, int32_t segmentId, int64_t mmapSize,
                       std::vector<uint8_t>* out);
// PlasmaSealReply with error OK.
void EncodeSealReply(const uint8_t* id, std::vector<uint8_t>* out);
// PlasmaCreateAndSealReply with error OK.
void EncodeCreateAndSealReply(std::vector<uint8_t>* out);
// PlasmaAbortReply.
void EncodeAbortReply(const uint8_t* id, std::vector<uint8_t>* out);
// PlasmaDeleteReply: count, the ids in request order, one error code each.
void EncodeDeleteReply(const std::vector<const uint8_t*>& ids, const std::vector<int32_t>& errors,
                       std::vector<uint8_t>* out);
// PlasmaCreateAndSealBatchReply with error OK.
void EncodeCreateAndSealBatchReply(std::vector<uint8_t>* out);
// PlasmaContainsReply.
void EncodeContainsReply(const uint8_t* id, bool has, std::vector<uint8_t>* out);

}  // namespace plasmapool
