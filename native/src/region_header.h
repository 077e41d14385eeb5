// The header page at offset 0 of every region (layout version 1).
//
// Little-endian, fixed offsets, 4096 bytes; object bytes start at dataOffset (4096 in v1).
// The header is written once at creation, magic last, so a creator that crashes half-way leaves
// a file that attach refuses ("bad magic") instead of one that looks valid.
//
// Room for a crash-safe object index: a later layout version can keep an index of sealed objects
// inside the region so a store restarted on the same region recovers them. v1 reserves the fields
// that describe it and leaves the index empty:
//   index_offset/index_length  where the index area lives (v1: offset = dataOffset, length 0);
//                              a later version places it between the header page and dataOffset,
//                              which is why dataOffset is stored rather than assumed;
//   index_format               0 = no index (v1);
//   index_slots, index_generation[2], index_checksum[2]
//                              two alternately written copies ("A/B slots") with a generation
//                              counter and checksum each, so an update torn by a crash leaves the
//                              other slot intact; recovery takes the valid slot with the highest
//                              generation.
// A v1 reader refuses any other layout version, so such a change is always announced by bumping it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace plasmapool {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the region header is little-endian");

constexpr char kRegionMagic[8] = {'P', 'L', 'S', 'M', 'P', 'O', 'O', 'L'};
constexpr uint32_t kRegionLayoutVersion = 2;      // written by this build when it keeps an index
constexpr uint32_t kRegionLayoutVersionNoIndex = 1;  // still written (and read) without one
// v2: index_format 1 = an array of index_slots fixed 64-byte records of sealed objects at
// index_offset (= the header size), each with its own CRC-32; docs/recovery.md has the record.
constexpr uint32_t kIndexFormatSlots = 1;
constexpr uint64_t kIndexRecordBytes = 64;
constexpr uint64_t kRegionHeaderSize = 4096;
constexpr size_t kNodeNameBytes = 64;  // 63 bytes of UTF-8 + NUL

enum class RegionKind : uint32_t { kFile = 0, kHugetlbfs = 1, kDax = 2 };

struct RegionHeader {
  char magic[8];                 //   0
  uint32_t layout_version;       //   8
  uint32_t header_size;          //  12
  uint8_t uuid[16];              //  16  random (RFC 4122 version 4)
  uint64_t capacity;             //  32  bytes usable for objects
  uint64_t data_offset;          //  40  first object byte
  uint64_t map_length;           //  48  data_offset + capacity: bytes a client maps
  int64_t created_at_ns;         //  56  CLOCK_REALTIME at creation
  uint32_t kind;                 //  64  RegionKind
  uint32_t alignment;            //  68  page size map_length is rounded to
  char node_name[kNodeNameBytes];//  72  owner node, NUL-terminated UTF-8
  uint64_t index_offset;         // 136  object index area (reserved, empty in v1)
  uint64_t index_length;         // 144
  uint32_t index_format;         // 152
  uint32_t index_slots;          // 156
  uint64_t index_generation[2];  // 160
  uint64_t index_checksum[2];    // 176
  uint64_t header_checksum;      // 192  FNV-1a 64 of bytes [0, 192)
  uint8_t reserved[4096 - 200];  // 200  zero
};

static_assert(sizeof(RegionHeader) == kRegionHeaderSize, "header page is 4096 bytes");
static_assert(offsetof(RegionHeader, node_name) == 72, "layout v1 offsets are fixed");
static_assert(offsetof(RegionHeader, index_offset) == 136, "layout v1 offsets are fixed");
static_assert(offsetof(RegionHeader, header_checksum) == 192, "layout v1 offsets are fixed");

uint64_t HeaderChecksum(const RegionHeader& header);
// Canonical 8-4-4-4-12 lowercase hex.
std::string FormatUuid(const uint8_t uuid[16]);
// Accepts the canonical form in either case.
bool ParseUuid(const std::string& text, uint8_t uuid[16]);
// The node name stored in the header, up to its NUL.
std::string HeaderNodeName(const RegionHeader& header);

}  // namespace plasmapool
