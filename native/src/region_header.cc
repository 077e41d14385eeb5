#include "region_header.h"

#include <cctype>
#include <cstring>

namespace plasmapool {

uint64_t HeaderChecksum(const RegionHeader& header) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(&header);
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (size_t i = 0; i < offsetof(RegionHeader, header_checksum); i++) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string FormatUuid(const uint8_t uuid[16]) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[uuid[i] >> 4]);
    out.push_back(kHex[uuid[i] & 15]);
  }
  return out;
}

bool ParseUuid(const std::string& text, uint8_t uuid[16]) {
  if (text.size() != 36) return false;
  int byte = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
      i++;
      continue;
    }
    int hi = isxdigit(static_cast<unsigned char>(text[i])) ? text[i] : -1;
    int lo = i + 1 < text.size() && isxdigit(static_cast<unsigned char>(text[i + 1])) ? text[i + 1] : -1;
    if (hi < 0 || lo < 0) return false;
    auto nibble = [](int c) { return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10; };
    uuid[byte++] = static_cast<uint8_t>(nibble(hi) << 4 | nibble(lo));
    i += 2;
  }
  return byte == 16;
}

std::string HeaderNodeName(const RegionHeader& header) {
  return std::string(header.node_name, strnlen(header.node_name, kNodeNameBytes));
}

}  // namespace plasmapool
