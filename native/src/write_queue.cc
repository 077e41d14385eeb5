#include "write_queue.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace plasmapool {

namespace {

constexpr int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;
constexpr int kMaxIov = 64;

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// One fd-carrier message: 1 data byte + one SCM_RIGHTS descriptor (§4.1). Returns 1, or -1/errno.
ssize_t SendFd(int sock, int fd) {
  char byte = 0;
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, kSendFlags);
  } while (n < 0 && errno == EINTR);
  return n;
}

ssize_t SendIov(int sock, struct iovec* iov, int count) {
  struct msghdr msg = {};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(count);
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, kSendFlags);
  } while (n < 0 && errno == EINTR);
  return n;
}

}  // namespace

void WriteQueue::PushBytes(const uint8_t* a, size_t aLength, const uint8_t* b, size_t bLength) {
  Item item;
  item.size = aLength + bLength;
  item.data.reset(new uint8_t[item.size]);
  if (aLength > 0) memcpy(item.data.get(), a, aLength);
  if (bLength > 0) memcpy(item.data.get() + aLength, b, bLength);
  pending_ += item.size;
  items_.push_back(std::move(item));
}

WriteQueue::Status WriteQueue::WriteFrame(int sock, const uint8_t* header, size_t headerLength,
                                          const uint8_t* body, size_t bodyLength, int* err) {
  if (!items_.empty()) {
    // Something is queued, so the socket was full a moment ago: queue behind it.
    PushBytes(header, headerLength, body, bodyLength);
    return Status::kBlocked;
  }
  struct iovec iov[2] = {{const_cast<uint8_t*>(header), headerLength}, {const_cast<uint8_t*>(body), bodyLength}};
  ssize_t n = SendIov(sock, iov, bodyLength > 0 ? 2 : 1);
  if (n < 0) {
    if (!WouldBlock(errno)) {
      *err = errno;
      return Status::kFailed;
    }
    n = 0;
  }
  size_t written = static_cast<size_t>(n);
  if (written == headerLength + bodyLength) return Status::kDrained;
  if (written < headerLength) {
    PushBytes(header + written, headerLength - written, body, bodyLength);
  } else {
    PushBytes(nullptr, 0, body + (written - headerLength), bodyLength - (written - headerLength));
  }
  return Status::kBlocked;
}

WriteQueue::Status WriteQueue::WriteFd(int sock, int fd, int* err) {
  Item item;
  item.size = 1;
  item.fd = fd;
  pending_ += 1;
  items_.push_back(std::move(item));
  if (items_.size() > 1) return Status::kBlocked;
  return Flush(sock, err);
}

WriteQueue::Status WriteQueue::Flush(int sock, int* err) {
  while (!items_.empty()) {
    Item& front = items_.front();
    if (front.fd >= 0) {
      if (SendFd(sock, front.fd) < 0) {
        if (WouldBlock(errno)) return Status::kBlocked;
        *err = errno;
        return Status::kFailed;
      }
      close(front.fd);  // the peer holds its own reference now
      pending_ -= 1;
      items_.pop_front();
      continue;
    }
    // Gather consecutive frame items up to the next descriptor.
    struct iovec iov[kMaxIov];
    int count = 0;
    size_t total = 0;
    for (auto it = items_.begin(); it != items_.end() && it->fd < 0 && count < kMaxIov; ++it, ++count) {
      iov[count].iov_base = it->data.get() + it->pos;
      iov[count].iov_len = it->size - it->pos;
      total += iov[count].iov_len;
    }
    ssize_t n = SendIov(sock, iov, count);
    if (n < 0) {
      if (WouldBlock(errno)) return Status::kBlocked;
      *err = errno;
      return Status::kFailed;
    }
    size_t left = static_cast<size_t>(n);
    pending_ -= left;
    while (left > 0) {
      Item& item = items_.front();
      size_t rest = item.size - item.pos;
      if (left < rest) {
        item.pos += left;  // a partial write: resume here on the next writable event
        break;
      }
      left -= rest;
      items_.pop_front();
    }
    if (static_cast<size_t>(n) < total) return Status::kBlocked;
  }
  return Status::kDrained;
}

void WriteQueue::Clear() {
  for (auto& item : items_) {
    if (item.fd >= 0) close(item.fd);
  }
  items_.clear();
  pending_ = 0;
}

}  // namespace plasmapool
