#include "dataplane_codec.h"

#include <cstring>

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

void Align(std::vector<uint8_t>* out, size_t alignment, size_t extra = 0) {
  while ((out->size() + extra) % alignment != 0) out->push_back(0);
}
void Put32(std::vector<uint8_t>* out, uint32_t v) {
  uint8_t b[4];
  memcpy(b, &v, 4);
  out->insert(out->end(), b, b + 4);
}
void Put64(std::vector<uint8_t>* out, uint64_t v) {
  uint8_t b[8];
  memcpy(b, &v, 8);
  out->insert(out->end(), b, b + 8);
}
void Put16(std::vector<uint8_t>* out, uint16_t v) {
  uint8_t b[2];
  memcpy(b, &v, 2);
  out->insert(out->end(), b, b + 2);
}
void Set32(std::vector<uint8_t>* out, size_t pos, uint32_t v) { memcpy(out->data() + pos, &v, 4); }
// A uoffset at `pos` pointing forward to `target`.
void Link(std::vector<uint8_t>* out, size_t pos, size_t target) { Set32(out, pos, static_cast<uint32_t>(target - pos)); }

// Appends a 20-byte id as a string (length, bytes, NUL); returns its position.
size_t PutId(std::vector<uint8_t>* out, const uint8_t* id) {
  Align(out, 4);
  size_t pos = out->size();
  Put32(out, kObjectIdBytes);
  out->insert(out->end(), id, id + kObjectIdBytes);
  out->push_back(0);
  return pos;
}

// Root offset and vtable for a table of `fields` uoffset/int32 fields laid out 4 bytes apart
// right after the soffset; returns the table position.
size_t PutTableHead(std::vector<uint8_t>* out, uint16_t fields) {
  out->clear();
  Put32(out, 0);  // root offset, set below
  size_t vtable = out->size();
  Put16(out, static_cast<uint16_t>(4 + 2 * fields));
  Put16(out, static_cast<uint16_t>(4 + 4 * fields));
  for (uint16_t i = 0; i < fields; i++) Put16(out, static_cast<uint16_t>(4 + 4 * i));
  Align(out, 4);
  size_t table = out->size();
  Link(out, 0, table);
  Put32(out, static_cast<uint32_t>(table - vtable));  // soffset: vtable lies before the table
  for (uint16_t i = 0; i < fields; i++) Put32(out, 0);
  return table;
}

}  // namespace

bool ParseGetRequest(const uint8_t* body, size_t length, std::vector<const uint8_t*>* ids) {
  Reader r(body, length);
  uint64_t table;
  uint32_t voffsets[2];
  if (!r.Root(2, &table, voffsets)) return false;
  // timeout_ms (int64): only checked, a native get never waits.
  if (voffsets[1] != 0 && !r.Inside(table + voffsets[1], 8)) return false;
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

void EncodeGetReply(const std::vector<const uint8_t*>& ids, const std::vector<ObjectLocation>& objects,
                    int32_t segmentId, int64_t mmapSize, std::vector<uint8_t>* out) {
  // Fields: object_ids, plasma_objects, store_fds, mmap_sizes, handles. Everything is laid out
  // after the table, so every uoffset points forward as FlatBuffers requires.
  size_t table = PutTableHead(out, 5);
  size_t n = ids.size();

  Align(out, 4);
  size_t idVector = out->size();
  Link(out, table + 4, idVector);
  Put32(out, static_cast<uint32_t>(n));
  out->resize(out->size() + 4 * n);

  Align(out, 8, 4);  // struct elements 8-byte aligned
  Link(out, table + 8, out->size());
  Put32(out, static_cast<uint32_t>(n));
  for (const ObjectLocation& o : objects) {
    // PlasmaObjectSpec, 48 bytes (§2.3).
    Put32(out, static_cast<uint32_t>(segmentId));
    Put32(out, 0);
    Put64(out, o.offset);
    Put64(out, o.dataSize);
    Put64(out, o.offset + o.dataSize);
    Put64(out, o.metadataSize);
    Put32(out, 0);
    Put32(out, 0);
  }

  Align(out, 4);
  Link(out, table + 12, out->size());
  Put32(out, 1);
  Put32(out, static_cast<uint32_t>(segmentId));

  Align(out, 8, 4);
  Link(out, table + 16, out->size());
  Put32(out, 1);
  Put64(out, static_cast<uint64_t>(mmapSize));

  Align(out, 4);
  Link(out, table + 20, out->size());
  Put32(out, 0);

  for (size_t i = 0; i < n; i++) {
    size_t at = PutId(out, ids[i]);
    Link(out, idVector + 4 + 4 * i, at);
  }
  Align(out, 8);
}

void EncodeCreateReply(const uint8_t* id, const ObjectLocation& o, int32_t segmentId, int64_t mmapSize,
                       std::vector<uint8_t>* out) {
  // Table: soffset, object_id @4, plasma_object (48-byte struct, 8-aligned) @8, error @56,
  // store_fd @60, mmap_size @64; 72 bytes. ipc_handle is absent (no CUDA).
  out->clear();
  Put32(out, 0);
  size_t vtable = out->size();
  for (uint16_t v : {uint16_t{14}, uint16_t{72}, uint16_t{4}, uint16_t{8}, uint16_t{56}, uint16_t{60}, uint16_t{64}}) {
    Put16(out, v);
  }
  Align(out, 8);
  size_t table = out->size();
  Link(out, 0, table);
  Put32(out, static_cast<uint32_t>(table - vtable));
  Put32(out, 0);  // object_id, linked below
  Put32(out, static_cast<uint32_t>(segmentId));
  Put32(out, 0);
  Put64(out, o.offset);
  Put64(out, o.dataSize);
  Put64(out, o.offset + o.dataSize);
  Put64(out, o.metadataSize);
  Put32(out, 0);
  Put32(out, 0);
  Put32(out, 0);  // error: OK
  Put32(out, static_cast<uint32_t>(segmentId));
  Put64(out, static_cast<uint64_t>(mmapSize));
  size_t at = PutId(out, id);
  Link(out, table + 4, at);
  Align(out, 8);
}

void EncodeSealReply(const uint8_t* id, std::vector<uint8_t>* out) {
  size_t table = PutTableHead(out, 2);  // object_id, error (0 = OK)
  size_t at = PutId(out, id);
  Link(out, table + 4, at);
  Align(out, 8);
}

void EncodeCreateAndSealReply(std::vector<uint8_t>* out) {
  PutTableHead(out, 1);  // error: 0 = OK
  Align(out, 8);
}

void EncodeAbortReply(const uint8_t* id, std::vector<uint8_t>* out) {
  size_t table = PutTableHead(out, 1);  // object_id
  size_t at = PutId(out, id);
  Link(out, table + 4, at);
  Align(out, 8);
}

void EncodeDeleteReply(const std::vector<const uint8_t*>& ids, const std::vector<int32_t>& errors,
                       std::vector<uint8_t>* out) {
  size_t table = PutTableHead(out, 3);  // count, object_ids, errors
  size_t n = ids.size();
  Set32(out, table + 4, static_cast<uint32_t>(n));
  Align(out, 4);
  size_t idVector = out->size();
  Link(out, table + 8, idVector);
  Put32(out, static_cast<uint32_t>(n));
  out->resize(out->size() + 4 * n);
  Align(out, 4);
  Link(out, table + 12, out->size());
  Put32(out, static_cast<uint32_t>(n));
  for (int32_t e : errors) Put32(out, static_cast<uint32_t>(e));
  for (size_t i = 0; i < n; i++) {
    size_t at = PutId(out, ids[i]);
    Link(out, idVector + 4 + 4 * i, at);
  }
  Align(out, 8);
}

void EncodeCreateAndSealBatchReply(std::vector<uint8_t>* out) {
  PutTableHead(out, 1);  // error: 0 = OK
  Align(out, 8);
}

void EncodeContainsReply(const uint8_t* id, bool has, std::vector<uint8_t>* out) {
  size_t table = PutTableHead(out, 2);
  Set32(out, table + 8, has ? 1 : 0);
  size_t at = PutId(out, id);
  Link(out, table + 4, at);
  Align(out, 8);
}

}  // namespace plasmapool
