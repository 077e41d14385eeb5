// NativeChannel, the event-loop half: poll callbacks, recvmsg and delivery in stream order,
// flushing the write queue, and the close sequence. The JS-facing half is in channel.cc.
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "addon_data.h"
#include "channel.h"
#include "dataplane.h"
#include "errors.h"
#include "loop_callback.h"

namespace plasmapool {

namespace {

// Reads per poll callback before yielding to the rest of the loop (level-triggered epoll calls
// back while data remains).
constexpr int kReadsPerWakeup = 16;
// Room for more descriptors than Plasma ever sends in one message, so that a misbehaving peer's
// extras are received (and closed) instead of truncated.
constexpr size_t kMaxFdsPerRead = 16;
// Times a wake-up gives way to the peer while a frame is half read (see ReadSome).
constexpr int kYieldsPerWakeup = 4;
// Frames delivered per loop iteration before the rest wait for the next one: a client that
// pipelines thousands of requests cannot keep the loop from accepting and serving others.
constexpr int kFramesPerWakeup = 64;

// Whether giving way pays on this thread. It pays when the writer of the half frame shares our
// CPU: it finishes the frame at once and we resume within microseconds. When a busy neighbour
// shares the CPU instead, the yield hands it a whole time slice (milliseconds) while requests
// wait; one such yield closes the gate for a second, so that a busy machine pays at most one
// slow yield a second.
class YieldGate {
 public:
  bool open(uint64_t now) const { return now >= closedUntil_; }
  void Took(uint64_t start, uint64_t end) {
    if (end - start > kSlowYieldNs) closedUntil_ = end + kClosedNs;
  }

 private:
  static constexpr uint64_t kSlowYieldNs = 200 * 1000;       // far longer than writing a frame
  static constexpr uint64_t kClosedNs = 1000 * 1000 * 1000;  // 1 s
  uint64_t closedUntil_ = 0;
};

thread_local YieldGate yieldGate;  // the event loop's thread serves every channel

std::string WriteFailure(int err) {
  if (err == EPIPE || err == ECONNRESET) {
    return "peer closed the connection while output was being written (" + ErrnoName(err) + ")";
  }
  return "write failed: " + ErrnoText(err);
}

}  // namespace

void Channel::OnPoll(uv_poll_t* handle, int status, int events) {
  Channel* self = static_cast<ChannelHandles*>(handle->data)->owner;
  if (self == nullptr || self->closing_) return;
  if (!CanCallJs(self->Env())) {
    uv_poll_stop(handle);  // environment teardown: stop waking up; the fd goes with the process
    return;
  }
  Napi::HandleScope scope(self->Env());
  if (status < 0) {
    // libuv reports POLLERR as UV_EBADF and stops the handle. The socket's pending error says
    // what happened (typically ECONNRESET: the peer closed with our bytes unread). Deliver what
    // the peer sent before that, then close with the real reason.
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    self->polling_ = 0;
    if (!self->paused_) self->ReadSome();
    if (!self->closing_) {
      self->Shutdown(err == ECONNRESET ? std::string("connection reset by peer (ECONNRESET)")
                     : err != 0      ? "socket error: " + ErrnoText(err)
                                     : std::string("socket poll failed: ") + uv_strerror(status));
    }
    return;
  }
  self->frameBudget_ = kFramesPerWakeup;
  if (events & UV_WRITABLE) self->Flush();
  if (!self->closing_ && (events & UV_READABLE)) self->ReadSome();
  self->UpdatePoll();
}

void Channel::OnIdle(uv_idle_t* handle) {
  uv_idle_stop(handle);
  Channel* self = static_cast<ChannelHandles*>(handle->data)->owner;
  if (self == nullptr || self->closing_ || !CanCallJs(self->Env())) return;
  Napi::HandleScope scope(self->Env());
  self->frameBudget_ = kFramesPerWakeup;
  self->Deliver();
  self->UpdatePoll();
}

void Channel::ScheduleDelivery() {
  // Delivery always continues from the loop, never from inside a JS call into this channel.
  if (started_ && !closing_ && !paused_ && !delivering_ && !OutputBacklogged() && (reader_->HasBuffered() || eof_)) {
    uv_idle_start(&handles_->idle, OnIdle);
  }
}

void Channel::ReadSome() {
  int yields = 0;
  for (int i = 0; i < kReadsPerWakeup && !closing_ && !paused_ && !eof_ && !Held(); i++) {
    size_t space = 0;
    uint8_t* dst = reader_->PrepareRead(&space);
    if (dst == nullptr) {
      Shutdown(std::string("out of memory assembling an incoming frame"));
      return;
    }
    struct iovec iov = {dst, space};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRead)];
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    // Always recvmsg with a control buffer: a read without one discards passed descriptors.
    ssize_t n = recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // Half a frame: the peer is writing it right now, in pieces (pyarrow's client writes a
        // frame's header fields and body with separate writes). On its CPU, each piece would wake
        // us and we would preempt it, read a few bytes and sleep again, several switches per
        // message. Giving way lets it write the rest first; elsewhere the yield returns at once
        // (and YieldGate stops it where it would hand the CPU to a busy neighbour).
        if (reader_->HasPartialFrame() && !deferred_ && yields < kYieldsPerWakeup) {
          uint64_t start = uv_hrtime();
          if (yieldGate.open(start)) {
            yields++;
            sched_yield();
            yieldGate.Took(start, uv_hrtime());
            continue;
          }
        }
        break;
      }
      eof_ = true;
      eofReason_ = errno == ECONNRESET ? "connection reset by peer (ECONNRESET)" : "read failed: " + ErrnoText(errno);
      break;
    }
    std::vector<int> fds;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t k = 0; k < count; k++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
        fds.push_back(fd);
      }
    }
    // Policy: exactly one descriptor per carrier message, like the Plasma client (§4.1), which
    // fails on anything else. Extras are closed and the connection is dropped with a reason.
    if ((msg.msg_flags & MSG_CTRUNC) || fds.size() > 1) {
      for (int fd : fds) close(fd);
      Shutdown((msg.msg_flags & MSG_CTRUNC)
                   ? std::string("protocol error: peer sent more descriptors than fit in one message")
                   : "protocol error: peer sent " + std::to_string(fds.size()) +
                         " descriptors in one message; Plasma passes exactly one per message");
      return;
    }
    if (n == 0) {
      eof_ = true;
      break;
    }
    reader_->Commit(static_cast<size_t>(n), fds.empty() ? -1 : fds[0]);
    Deliver();
    // Read on after a short read, although the socket looked drained: a client on the same CPU
    // often runs while our reply is being sent (it is woken, and preempts us) and has sent its
    // next request when we resume. Reading it now saves a turn of the event loop, which costs
    // more than the read that finds nothing otherwise (docs/performance.md part 4).
  }
  if (eof_ && !Held()) Deliver();  // delivers what is complete, then closes
}

void Channel::Deliver() {
  if (delivering_) return;  // a handler called back into us; the running loop continues
  delivering_ = true;
  deferred_ = false;
  bool drained = false;
  Napi::Env env = Env();
  while (!closing_ && !paused_) {
    // Stopped here, the loop resumes from AfterWrite (output drained) or OnIdle (next iteration).
    if (OutputBacklogged()) break;
    if (frameBudget_ <= 0) {
      deferred_ = true;
      uv_idle_start(&handles_->idle, OnIdle);
      break;
    }
    FrameReader::Event event = reader_->Next();
    if (event.kind == FrameReader::Event::kNeedMore) {
      drained = true;
      break;
    }
    frameBudget_--;
    if (event.kind == FrameReader::Event::kError) {
      Shutdown(event.error);
      break;
    }
    Napi::HandleScope scope(env);
    // ---- data plane hook (issue 10): hot requests are served natively, without JS; before any
    // JS callback, TS receives the native changes it has not seen (docs/object-table.md §4).
    if (dataPlane_ != nullptr) {
      if (event.kind == FrameReader::Event::kFrame &&
          dataPlane_->TryHandle(this, dataPlaneClient_, event.type, event.body, event.length)) {
        if (dataPlane_->ShouldFlush()) dataPlane_->FlushEvents();
        continue;
      }
      dataPlane_->FlushEvents();
      if (closing_) break;
    }
    if (event.kind == FrameReader::Event::kFrame) {
      // Copy before calling out: the handler may close the channel, freeing the buffer.
      Napi::Buffer<uint8_t> body = Napi::Buffer<uint8_t>::Copy(env, event.body, event.length);
      Emit(onFrame_, {Napi::Number::New(env, static_cast<double>(event.type)), body});
    } else {
      Emit(onFd_, {Napi::Number::New(env, event.fd)});
    }
  }
  delivering_ = false;
  if (eof_ && drained && !closing_ && !paused_) FinishEof();
}

void Channel::FinishEof() {
  if (!eofReason_.empty()) {
    Shutdown(eofReason_);
    return;
  }
  std::string leftover = reader_->Leftover();
  if (!leftover.empty()) {
    Shutdown(leftover);
  } else if (!writer_.empty()) {
    Shutdown("peer closed the connection with " + std::to_string(writer_.pendingBytes()) +
             " bytes of output still queued");
  } else {
    Shutdown(std::nullopt);
  }
}

void Channel::Emit(Napi::FunctionReference& fn, std::initializer_list<napi_value> args) {
  if (fn.IsEmpty()) return;
  CallFromLoop(Env(), *asyncContext_, Value(), fn.Value(), args.size(), args.begin());
}

void Channel::Flush() {
  int err = 0;
  AfterWrite(writer_.Flush(fd_, &err), err);
}

void Channel::AfterWrite(WriteQueue::Status status, int err) {
  if (status == WriteQueue::Status::kFailed) {
    Shutdown(WriteFailure(err));
    return;
  }
  writeBlocked_ = status == WriteQueue::Status::kBlocked;
  if (!writeBlocked_ && ending_) {
    Shutdown(std::nullopt);
    return;
  }
  if (outputLimit_ > 0 && !deferred_) ScheduleDelivery();  // output drained below the limit
  UpdatePoll();
}

void Channel::UpdatePoll() {
  if (closing_) return;
  int events = 0;
  if (started_ && !paused_ && !eof_ && !Held()) events |= UV_READABLE;
  if (writeBlocked_) events |= UV_WRITABLE;
  if (events == polling_) return;
  polling_ = events;
  if (events == 0) {
    uv_poll_stop(&handles_->poll);
    return;
  }
  int r = uv_poll_start(&handles_->poll, events, OnPoll);
  if (r != 0) Shutdown(std::string("cannot poll the socket: ") + uv_strerror(r));
}

void Channel::Shutdown(std::optional<std::string> reason) {
  if (closing_) return;
  closing_ = true;
  closeReason_ = std::move(reason);
  // uv_close stops the poll and removes the fd from epoll at once, so closing the fd right
  // after is safe; the handle memory is freed in OnHandleClosed.
  uv_close(reinterpret_cast<uv_handle_t*>(&handles_->poll), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&handles_->idle), OnHandleClosed);
  close(fd_);
  fd_ = -1;
  writer_.Clear();
  reader_->Reset();
}

void Channel::OnHandleClosed(uv_handle_t* handle) {
  auto* handles = static_cast<ChannelHandles*>(handle->data);
  if (--handles->open > 0) return;
  Channel* owner = handles->owner;
  delete handles;
  if (owner != nullptr) owner->FinishClose();
}

void Channel::FinishClose() {
  handles_ = nullptr;
  finished_ = true;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  if (dataPlane_ != nullptr) dataPlane_->FlushEvents();  // data plane hook (issue 10)
  if (started_ && CanCallJs(env)) {
    Napi::Value reason = closeReason_ ? Napi::String::New(env, *closeReason_) : env.Null();
    Emit(onClose_, {reason});
  }
  onFrame_.Reset();
  onFd_.Reset();
  onClose_.Reset();
  asyncContext_.reset();
  dataPlane_ = nullptr;  // data plane hook (issue 10)
  dataPlaneRef_.Reset();
  if (holdsSelf_) {
    holdsSelf_ = false;
    Unref();
  }
}

}  // namespace plasmapool
