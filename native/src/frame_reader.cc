#include "frame_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace plasmapool {

namespace {

constexpr size_t kMinRead = 64 << 10;
constexpr size_t kMaxReadAhead = 1 << 20;
// After a large frame, give the memory back once the buffer is empty.
constexpr size_t kKeepCapacity = 256 << 10;

int64_t LoadInt64LE(const uint8_t* p) {
  int64_t v;
  memcpy(&v, p, sizeof(v));  // x86-64/arm64 are little-endian; region_header.h asserts it
  return v;
}

}  // namespace

bool ParseFramingMode(const std::string& text, FramingMode* mode) {
  if (text == "plasma") *mode = FramingMode::kPlasma;
  else if (text == "length64") *mode = FramingMode::kLength64;
  else return false;
  return true;
}

size_t FrameHeaderSize(FramingMode mode) { return mode == FramingMode::kPlasma ? 24 : 8; }

FrameReader::FrameReader(FramingMode mode, uint64_t maxFrameBytes) : mode_(mode), maxFrameBytes_(maxFrameBytes) {}

FrameReader::~FrameReader() { Reset(); }

void FrameReader::Reset() {
  for (auto& entry : fds_) close(entry.second);
  fds_.clear();
  free(buf_);
  buf_ = nullptr;
  cap_ = start_ = end_ = 0;
}

uint64_t FrameReader::PendingFrameBytes() const {
  size_t header = FrameHeaderSize(mode_);
  size_t have = end_ - start_;
  if (have < header) return 0;
  int64_t length = LoadInt64LE(buf_ + start_ + header - 8);
  if (length < 0 || static_cast<uint64_t>(length) > maxFrameBytes_) return 0;
  uint64_t total = header + static_cast<uint64_t>(length);
  return total > have ? total - have : 0;
}

uint8_t* FrameReader::PrepareRead(size_t* length) {
  if (start_ == end_) {
    start_ = end_ = 0;
    if (cap_ > kKeepCapacity) {
      free(buf_);
      buf_ = nullptr;
      cap_ = 0;
    }
  }
  size_t want = static_cast<size_t>(std::clamp<uint64_t>(PendingFrameBytes(), kMinRead, kMaxReadAhead));
  if (cap_ - end_ < want && start_ > 0) {
    memmove(buf_, buf_ + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  if (cap_ - end_ < want) {
    size_t grown = std::max(cap_ * 2, end_ + want);
    auto* bigger = static_cast<uint8_t*>(realloc(buf_, grown));
    if (bigger == nullptr) return nullptr;
    buf_ = bigger;
    cap_ = grown;
  }
  *length = cap_ - end_;
  return buf_ + end_;
}

void FrameReader::Commit(size_t n, int fd) {
  end_ += n;
  if (fd >= 0) {
    end_ -= 1;  // the carrier byte
    fds_.emplace_back(consumed_ + (end_ - start_), fd);
  }
}

FrameReader::Event FrameReader::Next() {
  Event event;
  if (!fds_.empty() && fds_.front().first == consumed_) {
    event.kind = Event::kFd;
    event.fd = fds_.front().second;
    fds_.pop_front();
    return event;
  }
  // Bytes that may belong to the next frame: up to the next descriptor, if any.
  uint64_t limit = end_ - start_;
  bool fdAhead = !fds_.empty();
  if (fdAhead) limit = std::min<uint64_t>(limit, fds_.front().first - consumed_);

  size_t header = FrameHeaderSize(mode_);
  if (limit < header) {
    if (fdAhead) {
      event.kind = Event::kError;
      event.error = "protocol error: a descriptor arrived inside a frame header (after " +
                    std::to_string(limit) + " of " + std::to_string(header) + " bytes)";
    }
    return event;
  }
  const uint8_t* p = buf_ + start_;
  int64_t type = 0;
  int64_t length = LoadInt64LE(p + header - 8);
  if (mode_ == FramingMode::kPlasma) {
    int64_t version = LoadInt64LE(p);
    if (version != 0) {
      event.kind = Event::kError;
      event.error = "protocol error: frame with protocol version " + std::to_string(version) +
                    " (Plasma uses 0); closing the connection";
      return event;
    }
    type = LoadInt64LE(p + 8);
  }
  if (length < 0) {
    event.kind = Event::kError;
    event.error = "protocol error: frame with negative length " + std::to_string(length);
    return event;
  }
  if (static_cast<uint64_t>(length) > maxFrameBytes_) {
    event.kind = Event::kError;
    event.error = "protocol error: frame of " + std::to_string(length) + " bytes exceeds maxFrameBytes (" +
                  std::to_string(maxFrameBytes_) + "); closing the connection";
    return event;
  }
  uint64_t total = header + static_cast<uint64_t>(length);
  if (limit < total) {
    if (fdAhead) {
      event.kind = Event::kError;
      event.error = "protocol error: a descriptor arrived inside a frame body (after " +
                    std::to_string(limit - header) + " of " + std::to_string(length) + " bytes)";
    }
    return event;
  }
  event.kind = Event::kFrame;
  event.type = type;
  event.body = p + header;
  event.length = static_cast<uint64_t>(length);
  start_ += total;
  consumed_ += total;
  return event;
}

std::string FrameReader::Leftover() const {
  size_t have = end_ - start_;
  if (have == 0) return "";
  size_t header = FrameHeaderSize(mode_);
  if (have < header) {
    return "peer closed the connection in the middle of a frame header (got " + std::to_string(have) + " of " +
           std::to_string(header) + " bytes)";
  }
  int64_t length = LoadInt64LE(buf_ + start_ + header - 8);
  return "peer closed the connection in the middle of a frame body (got " + std::to_string(have - header) +
         " of " + std::to_string(length) + " bytes)";
}

}  // namespace plasmapool
