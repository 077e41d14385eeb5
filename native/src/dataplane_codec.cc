#include "dataplane_codec.h"

#include <algorithm>
#include <cstring>

#include "flat_builder.h"
#include "object_index.h"

namespace plasmapool {

namespace {

constexpr uint64_t kMaxBuffer = 0x7fffffff;
constexpr uint32_t kMaxVoffset = 0x7fff;

uint32_t U32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
uint16_t U16(const uint8_t* p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

// The checks of flatbuffer-verifier.ts, one for one.
class Reader {
 public:
  Reader(const uint8_t* b, size_t n) : b_(b), n_(n) {}

  bool Inside(uint64_t pos, uint64_t size) const { return pos <= n_ && size <= n_ - pos; }

  bool Follow(uint64_t pos, uint64_t* target) const {
    if (!Inside(pos, 4)) return false;
    uint32_t rel = U32(b_ + pos);
    if (rel == 0 || rel > kMaxBuffer) return false;
    *target = pos + rel;
    return Inside(*target, 1);
  }

  bool Vector(uint64_t pos, uint64_t elementSize, uint32_t* count) const {
    if (!Inside(pos, 4)) return false;
    *count = U32(b_ + pos);
    return *count <= (n_ - pos - 4) / elementSize;
  }

  // Root table; fills the vtable entries of its first `slots` fields (0 = absent).
  bool Root(size_t slots, uint64_t* table, uint32_t* voffsets) const {
    if (n_ > kMaxBuffer || n_ < 8) return false;
    uint64_t pos;
    if (!Follow(0, &pos) || !Inside(pos, 4)) return false;
    int32_t soffset;
    memcpy(&soffset, b_ + pos, 4);
    int64_t vtable = static_cast<int64_t>(pos) - soffset;
    if (vtable < 0 || !Inside(static_cast<uint64_t>(vtable), 4)) return false;
    uint16_t vtableSize = U16(b_ + vtable);
    uint16_t tableSize = U16(b_ + vtable + 2);
    if (vtableSize < 4 || vtableSize % 2 != 0 || vtableSize > kMaxVoffset || !Inside(vtable, vtableSize)) return false;
    if (tableSize < 4 || tableSize > kMaxVoffset || !Inside(pos, tableSize)) return false;
    for (size_t slot = 0; slot < slots; slot++) {
      size_t entry = 4 + 2 * slot;
      voffsets[slot] = entry + 2 > vtableSize ? 0 : U16(b_ + vtable + entry);
      if (voffsets[slot] > kMaxVoffset) return false;
    }
    *table = pos;
    return true;
  }

  // A string field: where its bytes start and how many.
  bool String(uint64_t fieldPos, uint64_t* start, uint32_t* length) const {
    uint64_t target;
    if (!Follow(fieldPos, &target) || !Vector(target, 1, length)) return false;
    *start = target + 4;
    return true;
  }

  const uint8_t* at(uint64_t pos) const { return b_ + pos; }

 private:
  const uint8_t* b_;
  size_t n_;
};

// The one builder of this thread's replies (the data plane runs on the event loop's thread);
// reused so that a reply allocates nothing once the buffer has grown to fit.
FlatBuilder& Builder() {
  thread_local FlatBuilder builder;
  builder.Clear();
  return builder;
}

uint32_t Id(FlatBuilder& b, const uint8_t* id) { return b.CreateString(id, kObjectIdBytes); }

// createBinaryVector: the strings in order, then their uoffsets back to front.
uint32_t IdVector(FlatBuilder& b, const std::vector<const uint8_t*>& ids) {
  thread_local std::vector<uint32_t> strings;
  strings.clear();
  for (const uint8_t* id : ids) strings.push_back(Id(b, id));
  b.StartVector(4, strings.size(), 4);
  for (size_t i = strings.size(); i-- > 0;) b.AddOffset(strings[i]);
  return b.EndVector();
}

// PlasmaObjectSpec, a 48-byte struct written inline (§2.3), as the generated createPlasmaObjectSpec.
uint32_t SpecFields(FlatBuilder& b, int32_t segment, uint64_t dataOffset, uint64_t dataSize, uint64_t metadataOffset,
                    uint64_t metadataSize) {
  b.Prep(8, 48);
  b.Pad(4);
  b.Write32(0);  // device_num
  b.Write64(metadataSize);
  b.Write64(metadataOffset);
  b.Write64(dataSize);
  b.Write64(dataOffset);
  b.Pad(4);
  b.Write32(static_cast<uint32_t>(segment));
  return b.Offset();
}

uint32_t ObjectSpec(FlatBuilder& b, int32_t segmentId, const ObjectLocation& o) {
  // Not available (§3.6): data size -1 and every other field 0, as store-codec.ts writes it.
  if (!o.found) return SpecFields(b, 0, 0, ~uint64_t{0}, 0, 0);
  // The metadata follows the data.
  return SpecFields(b, segmentId, o.offset, o.dataSize, o.offset + o.dataSize, o.metadataSize);
}

}  // namespace

bool ParseGetRequest(const uint8_t* body, size_t length, std::vector<const uint8_t*>* ids, int64_t* timeoutMs) {
  Reader r(body, length);
  uint64_t table;
  uint32_t voffsets[2];
  if (!r.Root(2, &table, voffsets)) return false;
  *timeoutMs = 0;
  if (voffsets[1] != 0) {
    if (!r.Inside(table + voffsets[1], 8)) return false;
    memcpy(timeoutMs, r.at(table + voffsets[1]), 8);
  }
  if (voffsets[0] == 0) return false;
  uint64_t vec;
  uint32_t count;
  if (!r.Follow(table + voffsets[0], &vec) || !r.Vector(vec, 4, &count) || count == 0) return false;
  ids->clear();
  for (uint32_t i = 0; i < count; i++) {
    uint64_t start;
    uint32_t len;
    if (!r.String(vec + 4 + 4 * uint64_t{i}, &start, &len) || len != kObjectIdBytes) return false;
    ids->push_back(r.at(start));
  }
  return true;
}

bool ParseCreateRequest(const uint8_t* body, size_t length, CreateRequest* request) {
  Reader r(body, length);
  uint64_t table;
  uint32_t v[5];
  if (!r.Root(5, &table, v) || v[0] == 0) return false;
  uint64_t start;
  uint32_t len;
  if (!r.String(table + v[0], &start, &len) || len != kObjectIdBytes) return false;
  const size_t sizes[5] = {0, 1, 8, 8, 4};
  for (int slot = 1; slot < 5; slot++) {
    if (v[slot] != 0 && !r.Inside(table + v[slot], sizes[slot])) return false;
  }
  request->id = r.at(start);
  request->evictIfFull = v[1] != 0 && *r.at(table + v[1]) != 0;
  request->dataSize = 0;
  request->metadataSize = 0;
  request->deviceNum = 0;
  if (v[2] != 0) memcpy(&request->dataSize, r.at(table + v[2]), 8);
  if (v[3] != 0) memcpy(&request->metadataSize, r.at(table + v[3]), 8);
  if (v[4] != 0) memcpy(&request->deviceNum, r.at(table + v[4]), 4);
  return true;
}

bool ParseSealRequest(const uint8_t* body, size_t length, const uint8_t** id, const uint8_t** digest) {
  Reader r(body, length);
  uint64_t table;
  uint32_t v[2];
  if (!r.Root(2, &table, v) || v[0] == 0 || v[1] == 0) return false;
  uint64_t start, digestStart;
  uint32_t len, digestLen;
  if (!r.String(table + v[0], &start, &len) || len != kObjectIdBytes) return false;
  if (!r.String(table + v[1], &digestStart, &digestLen) || digestLen != 8) return false;
  *id = r.at(start);
  *digest = r.at(digestStart);
  return true;
}

bool ParseCreateAndSealRequest(const uint8_t* body, size_t length, CreateAndSealRequest* request) {
  // Slots: object_id, evict_if_full, data, metadata, digest (checked as the TS verifier does).
  Reader r(body, length);
  uint64_t table;
  uint32_t v[5];
  if (!r.Root(5, &table, v) || v[0] == 0 || v[4] == 0) return false;
  if (v[1] != 0 && !r.Inside(table + v[1], 1)) return false;
  uint64_t start;
  uint32_t len;
  if (!r.String(table + v[0], &start, &len) || len != kObjectIdBytes) return false;
  request->id = r.at(start);
  request->evictIfFull = v[1] != 0 && *r.at(table + v[1]) != 0;
  request->data = nullptr;
  request->dataSize = 0;
  request->metadata = nullptr;
  request->metadataSize = 0;
  if (v[2] != 0) {
    if (!r.String(table + v[2], &start, &request->dataSize)) return false;
    request->data = r.at(start);
  }
  if (v[3] != 0) {
    if (!r.String(table + v[3], &start, &request->metadataSize)) return false;
    request->metadata = r.at(start);
  }
  if (!r.String(table + v[4], &start, &len) || len != 8) return false;  // §3.4: exactly 8 bytes
  request->digest = r.at(start);
  return true;
}

namespace {

// A vector of strings at a table field: its element count and position (0 elements if absent).
bool StringVector(const Reader& r, uint64_t table, uint32_t voffset, uint64_t* vec, uint32_t* count) {
  *count = 0;
  if (voffset == 0) return true;
  return r.Follow(table + voffset, vec) && r.Vector(*vec, 4, count);
}

}  // namespace

bool ParseDeleteRequest(const uint8_t* body, size_t length, std::vector<const uint8_t*>* ids) {
  Reader r(body, length);
  uint64_t table;
  uint32_t v[2];
  if (!r.Root(2, &table, v)) return false;
  int32_t count = 0;
  if (v[0] != 0) {
    if (!r.Inside(table + v[0], 4)) return false;
    memcpy(&count, r.at(table + v[0]), 4);
  }
  uint64_t vec = 0;
  uint32_t n;
  if (!StringVector(r, table, v[1], &vec, &n) || n == 0 || count < 0 || static_cast<uint32_t>(count) != n) return false;
  ids->clear();
  for (uint32_t i = 0; i < n; i++) {
    uint64_t start;
    uint32_t len;
    if (!r.String(vec + 4 + 4 * uint64_t{i}, &start, &len) || len != kObjectIdBytes) return false;
    ids->push_back(r.at(start));
  }
  return true;
}

bool ParseCreateAndSealBatchRequest(const uint8_t* body, size_t length, std::vector<BatchItem>* items) {
  // Slots: object_ids, evict_if_full, data, metadata, digest.
  Reader r(body, length);
  uint64_t table;
  uint32_t v[5];
  if (!r.Root(5, &table, v)) return false;
  if (v[1] != 0 && !r.Inside(table + v[1], 1)) return false;
  uint64_t vecs[5] = {0, 0, 0, 0, 0};
  uint32_t counts[5] = {0, 0, 0, 0, 0};
  for (int slot : {0, 2, 3, 4}) {
    if (!StringVector(r, table, v[slot], &vecs[slot], &counts[slot])) return false;
  }
  uint32_t n = counts[0];
  if (n == 0 || counts[2] != n || counts[3] != n || counts[4] != n) return false;
  items->assign(n, BatchItem{});
  for (uint32_t i = 0; i < n; i++) {
    BatchItem& item = (*items)[i];
    uint64_t start;
    uint32_t len;
    uint64_t at = 4 + 4 * uint64_t{i};
    if (!r.String(vecs[0] + at, &start, &len) || len != kObjectIdBytes) return false;
    item.id = r.at(start);
    if (!r.String(vecs[2] + at, &start, &item.dataSize)) return false;
    item.data = r.at(start);
    if (!r.String(vecs[3] + at, &start, &item.metadataSize)) return false;
    item.metadata = r.at(start);
    if (!r.String(vecs[4] + at, &start, &item.digestSize)) return false;
    item.digest = r.at(start);
  }
  return true;
}

bool ParseSingleIdRequest(const uint8_t* body, size_t length, const uint8_t** id) {
  Reader r(body, length);
  uint64_t table;
  uint32_t voffsets[1];
  if (!r.Root(1, &table, voffsets) || voffsets[0] == 0) return false;
  uint64_t start;
  uint32_t len;
  if (!r.String(table + voffsets[0], &start, &len) || len != kObjectIdBytes) return false;
  *id = r.at(start);
  return true;
}

// Each encoder calls the builder in the order of encodeReply in src/protocol/store-codec.ts (and
// the generated create*/add* functions it uses), so the bytes are TypeScript's own.

void EncodeGetReply(const std::vector<const uint8_t*>& ids, const std::vector<ObjectLocation>& objects,
                    int32_t segmentId, int64_t mmapSize, std::vector<uint8_t>* out) {
  FlatBuilder& b = Builder();
  uint32_t idVector = IdVector(b, ids);
  b.StartVector(48, objects.size(), 8);
  for (size_t i = objects.size(); i-- > 0;) ObjectSpec(b, segmentId, objects[i]);
  uint32_t specs = b.EndVector();
  bool anyFound = std::any_of(objects.begin(), objects.end(), [](const ObjectLocation& o) { return o.found; });
  size_t segments = anyFound ? 1 : 0;
  b.StartVector(4, segments, 4);  // store_fds: the one segment every found object lies in
  if (segments != 0) b.AddInt32(static_cast<uint32_t>(segmentId));
  uint32_t fds = b.EndVector();
  b.StartVector(8, segments, 8);
  if (segments != 0) b.AddInt64(static_cast<uint64_t>(mmapSize));
  uint32_t sizes = b.EndVector();
  b.StartVector(4, 0, 4);  // handles: none (no CUDA)
  uint32_t handles = b.EndVector();
  b.StartObject(5);
  b.AddFieldOffset(0, idVector);
  b.AddFieldOffset(1, specs);
  b.AddFieldOffset(2, fds);
  b.AddFieldOffset(3, sizes);
  b.AddFieldOffset(4, handles);
  b.Finish(b.EndObject(), out);
}

void EncodeCreateReply(const uint8_t* id, const ObjectLocation& o, int32_t segmentId, int64_t mmapSize,
                       std::vector<uint8_t>* out) {
  FlatBuilder& b = Builder();
  uint32_t idString = Id(b, id);
  b.StartObject(6);
  b.AddFieldOffset(0, idString);
  b.AddFieldStruct(1, ObjectSpec(b, segmentId, o));
  b.AddFieldInt32(3, segmentId, 0);  // store_fd; error OK is the default, so absent
  b.AddFieldInt64(4, mmapSize, 0);
  b.Finish(b.EndObject(), out);
}

namespace {

// A table whose only field is an id (Seal and Abort replies; a Seal's error OK is the default).
void EncodeIdOnlyReply(const uint8_t* id, int fields, std::vector<uint8_t>* out) {
  FlatBuilder& b = Builder();
  uint32_t idString = Id(b, id);
  b.StartObject(fields);
  b.AddFieldOffset(0, idString);
  b.Finish(b.EndObject(), out);
}

// A table whose only field, error, is OK, the default: an empty table.
void EncodeOkReply(std::vector<uint8_t>* out) {
  FlatBuilder& b = Builder();
  b.StartObject(1);
  b.Finish(b.EndObject(), out);
}

}  // namespace

void EncodeSealReply(const uint8_t* id, std::vector<uint8_t>* out) { EncodeIdOnlyReply(id, 2, out); }

void EncodeCreateAndSealReply(std::vector<uint8_t>* out) { EncodeOkReply(out); }

void EncodeAbortReply(const uint8_t* id, std::vector<uint8_t>* out) { EncodeIdOnlyReply(id, 1, out); }

void EncodeDeleteReply(const std::vector<const uint8_t*>& ids, const std::vector<int32_t>& errors,
                       std::vector<uint8_t>* out) {
  FlatBuilder& b = Builder();
  uint32_t idVector = IdVector(b, ids);
  b.StartVector(4, errors.size(), 4);
  for (size_t i = errors.size(); i-- > 0;) b.AddInt32(static_cast<uint32_t>(errors[i]));
  uint32_t errorVector = b.EndVector();
  b.StartObject(3);
  b.AddFieldInt32(0, static_cast<int32_t>(ids.size()), 0);
  b.AddFieldOffset(1, idVector);
  b.AddFieldOffset(2, errorVector);
  b.Finish(b.EndObject(), out);
}

void EncodeCreateAndSealBatchReply(std::vector<uint8_t>* out) { EncodeOkReply(out); }

void EncodeContainsReply(const uint8_t* id, bool has, std::vector<uint8_t>* out) {
  FlatBuilder& b = Builder();
  uint32_t idString = Id(b, id);
  b.StartObject(2);
  b.AddFieldOffset(0, idString);
  b.AddFieldInt32(1, has ? 1 : 0, 0);
  b.Finish(b.EndObject(), out);
}

}  // namespace plasmapool
