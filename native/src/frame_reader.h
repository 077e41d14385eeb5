// Inbound side of a channel: bytes and received descriptors in, frames and descriptors out, in
// stream order. No I/O and no JS here; Channel feeds it from recvmsg and delivers its events.
//
// Descriptor positions. Linux ends a stream read right after the skb that carried SCM_RIGHTS
// descriptors, and a Plasma fd-carrier message is exactly 1 data byte + 1 fd (§4.1, §4.7). So when
// a read returns a descriptor, the LAST byte of that read is its carrier byte: it is dropped and
// the descriptor is placed at that point of the byte stream. Frames that end before it are
// delivered before it; a descriptor that lands inside a frame is a protocol error. (A peer that
// attaches a descriptor to a message of several bytes cannot be framed this way; Plasma never
// does.)
//
// Memory. The claimed length of a frame is only a claim: the buffer grows as bytes actually
// arrive (doubling, at most 1 MiB of read-ahead per read), so a header announcing 200 MiB costs
// nothing until 200 MiB arrive, and a length above the limit is refused as soon as the header is
// complete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>

namespace plasmapool {

enum class FramingMode {
  kPlasma,    // 24-byte header: int64 LE version (0), type, length (§1.2)
  kLength64,  // 8-byte header: int64 LE length (notification socket, §5.2)
};

bool ParseFramingMode(const std::string& text, FramingMode* mode);
size_t FrameHeaderSize(FramingMode mode);

class FrameReader {
 public:
  struct Event {
    enum Kind { kNeedMore, kFrame, kFd, kError } kind = kNeedMore;
    int64_t type = 0;
    const uint8_t* body = nullptr;  // valid until the next PrepareRead() or Reset()
    uint64_t length = 0;
    int fd = -1;        // kFd: ownership passes to the caller
    std::string error;  // kError: why the stream is unusable
  };

  FrameReader(FramingMode mode, uint64_t maxFrameBytes);
  ~FrameReader();
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // Space for the next read; *length receives its size (>= 64 KiB). nullptr if memory ran out.
  uint8_t* PrepareRead(size_t* length);
  // n bytes arrived at the PrepareRead pointer; fd >= 0 if the read carried one (see above).
  void Commit(size_t n, int fd);
  Event Next();

  // After end of stream: why stopping here loses data (a partial frame), or "" at a boundary.
  std::string Leftover() const;
  bool HasBuffered() const { return end_ > start_ || !fds_.empty(); }
  // Bytes of a frame whose rest has not arrived (after Next() answered kNeedMore).
  bool HasPartialFrame() const { return end_ > start_; }
  size_t capacity() const { return cap_; }
  void set_max_frame_bytes(uint64_t max) { maxFrameBytes_ = max; }
  uint64_t max_frame_bytes() const { return maxFrameBytes_; }
  // Drop buffered bytes, close undelivered descriptors, release memory.
  void Reset();

 private:
  // Bytes of the current frame still to come, if its header is complete (0 otherwise).
  uint64_t PendingFrameBytes() const;

  FramingMode mode_;
  uint64_t maxFrameBytes_;
  uint8_t* buf_ = nullptr;
  size_t cap_ = 0;
  size_t start_ = 0;      // first undelivered byte
  size_t end_ = 0;        // one past the last received byte
  uint64_t consumed_ = 0; // stream position of buf_[start_]
  std::deque<std::pair<uint64_t, int>> fds_;  // (stream position, descriptor)
};

}  // namespace plasmapool
