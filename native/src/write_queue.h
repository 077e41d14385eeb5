// Outbound side of a channel: ONE ordered queue of frames and fd-carrier messages.
//
// Why one queue: a descriptor sent with its own sendmsg while reply bytes still sit in another
// queue overtakes them (seen: an fd landing at byte 219,264 of an 8 MiB reply), and the Plasma
// client then reads the carrier byte as frame data (§4.1, §4.3). Here every item leaves in the
// order it was queued, frames are written with sendmsg(MSG_NOSIGNAL | MSG_DONTWAIT), a partial
// write resumes exactly where it stopped, and each descriptor goes as 1 byte + exactly one
// SCM_RIGHTS fd in a sendmsg of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>

namespace plasmapool {

class WriteQueue {
 public:
  enum class Status { kDrained, kBlocked, kFailed };

  WriteQueue() = default;
  ~WriteQueue() { Clear(); }
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // Send header + body behind everything queued; when nothing is queued, write straight from the
  // caller's memory and copy only what the socket did not take.
  Status WriteFrame(int sock, const uint8_t* header, size_t headerLength, const uint8_t* body,
                    size_t bodyLength, int* err);
  // Send one descriptor (ownership passes to the queue; it is closed once sent or dropped).
  Status WriteFd(int sock, int fd, int* err);
  // Write queued items until the socket is full or the queue is empty.
  Status Flush(int sock, int* err);

  bool empty() const { return items_.empty(); }
  uint64_t pendingBytes() const { return pending_; }
  // Drop everything, closing queued descriptors.
  void Clear();

 private:
  struct Item {
    std::unique_ptr<uint8_t[]> data;  // frame bytes; null for a descriptor
    size_t size = 0;
    size_t pos = 0;  // bytes already written
    int fd = -1;
  };

  void PushBytes(const uint8_t* a, size_t aLength, const uint8_t* b, size_t bLength);

  std::deque<Item> items_;
  uint64_t pending_ = 0;
};

}  // namespace plasmapool
