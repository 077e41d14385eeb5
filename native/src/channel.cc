#include "channel.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "addon_data.h"
#include "errors.h"
#include "js_args.h"

namespace plasmapool {

namespace {

// Reads per poll callback before yielding to the rest of the loop (level-triggered epoll calls
// back while data remains).
constexpr int kReadsPerWakeup = 16;
// Room for more descriptors than Plasma ever sends in one message, so that a misbehaving peer's
// extras are received (and closed) instead of truncated.
constexpr size_t kMaxFdsPerRead = 16;

int64_t ToInt64(double d) { return static_cast<int64_t>(d); }

void StoreInt64LE(uint8_t* p, int64_t v) { memcpy(p, &v, sizeof(v)); }

std::string WriteFailure(int err) {
  if (err == EPIPE || err == ECONNRESET) {
    return "peer closed the connection while output was being written (" + ErrnoName(err) + ")";
  }
  return "write failed: " + ErrnoText(err);
}

}  // namespace

Napi::Function Channel::Init(Napi::Env env) {
  return DefineClass(env, "NativeChannel",
                     {
                         InstanceMethod<&Channel::Start>("start"),
                         InstanceMethod<&Channel::SendFrame>("sendFrame"),
                         InstanceMethod<&Channel::SendFd>("sendFd"),
                         InstanceMethod<&Channel::PauseReading>("pauseReading"),
                         InstanceMethod<&Channel::ResumeReading>("resumeReading"),
                         InstanceMethod<&Channel::RefHandle>("ref"),
                         InstanceMethod<&Channel::UnrefHandle>("unref"),
                         InstanceMethod<&Channel::CloseJs>("close"),
                         InstanceMethod<&Channel::End>("end"),
                         InstanceAccessor<&Channel::GetFd>("fd"),
                         InstanceAccessor<&Channel::GetPendingWriteBytes>("pendingWriteBytes"),
                         InstanceAccessor<&Channel::GetMaxFrameBytes, &Channel::SetMaxFrameBytes>("maxFrameBytes"),
                         InstanceAccessor<&Channel::GetReadBufferBytes>("readBufferBytes"),
                         InstanceAccessor<&Channel::GetClosed>("closed"),
                     });
}

Channel::Channel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Channel>(info) {
  if (info.Length() < 1 || !IsConstructToken(info[0])) {
    ThrowTypeError(info.Env(), "NativeChannel cannot be constructed directly: use connect(), listen() or channelFromFd()");
  }
}

Channel::~Channel() {
  // Reached only after FinishClose() dropped the strong reference, or at environment teardown.
  if (handles_ != nullptr) {
    handles_->owner = nullptr;
    if (!closing_) {
      uv_close(reinterpret_cast<uv_handle_t*>(&handles_->poll), OnHandleClosed);
      uv_close(reinterpret_cast<uv_handle_t*>(&handles_->idle), OnHandleClosed);
    }
  }
  if (fd_ >= 0) close(fd_);
}

Napi::Value Channel::NewInstance(Napi::Env env, int fd, FramingMode mode) {
  Napi::Object obj = GetAddonData(env)->channelCtor.New({ConstructToken(env)});
  if (env.IsExceptionPending()) {
    close(fd);
    return Napi::Value();
  }
  if (!Channel::Unwrap(obj)->Setup(env, fd, mode)) return Napi::Value();
  return obj;
}

bool Channel::Setup(Napi::Env env, int fd, FramingMode mode) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    close(fd);
    ThrowError(env, "ERR_NO_LOOP", "channel: cannot get the event loop");
    return false;
  }
  auto* handles = new ChannelHandles();
  int r = uv_poll_init(loop, &handles->poll, fd);
  if (r != 0) {
    delete handles;
    close(fd);
    ThrowError(env, uv_err_name(r), std::string("channel: cannot poll the socket: ") + uv_strerror(r));
    return false;
  }
  uv_idle_init(loop, &handles->idle);
  handles->owner = this;
  handles->open = 2;
  handles->poll.data = handles;
  handles->idle.data = handles;
  handles_ = handles;
  fd_ = fd;
  mode_ = mode;
  reader_ = std::make_unique<FrameReader>(mode, kDefaultMaxFrameBytes);
  Ref();  // strong while open: the loop may be the only thing that still knows this channel
  holdsSelf_ = true;
  return true;
}

Napi::Value Channel::FromFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  std::string modeText;
  FramingMode mode;
  if (!ToFd(env, info[0], "fd", &fd) || !ToString(env, info[1], "mode", &modeText)) return Napi::Value();
  if (!ParseFramingMode(modeText, &mode)) {
    ThrowTypeError(env, "mode must be 'plasma' or 'length64', got '" + modeText + "'");
    return Napi::Value();
  }
  // Validate before taking ownership: on a throw the caller still owns fd.
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ThrowErrno(env, err, "channelFromFd(" + std::to_string(fd) + "): " + ErrnoText(err));
    return Napi::Value();
  }
  int domain = 0, type = 0;
  socklen_t len = sizeof(int);
  if (!S_ISSOCK(st.st_mode) || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || domain != AF_UNIX || type != SOCK_STREAM) {
    ThrowError(env, "ENOTSOCK", "channelFromFd(" + std::to_string(fd) + "): not a Unix-domain stream socket");
    return Napi::Value();
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  return NewInstance(env, fd, mode);
}

// ---- JS methods ----------------------------------------------------------------------------

Napi::Value Channel::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) {
    ThrowError(env, "ERR_STARTED", "start(): the channel is already started");
    return Napi::Value();
  }
  if (finished_) {
    ThrowError(env, "ERR_CLOSED", "start(): the channel is closed");
    return Napi::Value();
  }
  if (!info[0].IsObject()) {
    ThrowTypeError(env, "start(handlers): handlers must be an object with onFrame, onFd and onClose");
    return Napi::Value();
  }
  Napi::Object handlers = info[0].As<Napi::Object>();
  Napi::Function onFrame, onFd, onClose;
  if (!ToFunction(env, handlers.Get("onFrame"), "handlers.onFrame", &onFrame) ||
      !ToFunction(env, handlers.Get("onFd"), "handlers.onFd", &onFd) ||
      !ToFunction(env, handlers.Get("onClose"), "handlers.onClose", &onClose)) {
    return Napi::Value();
  }
  onFrame_ = Napi::Persistent(onFrame);
  onFd_ = Napi::Persistent(onFd);
  onClose_ = Napi::Persistent(onClose);
  asyncContext_ = std::make_unique<Napi::AsyncContext>(env, "PlasmapoolChannel", Value());
  started_ = true;
  UpdatePoll();
  return env.Undefined();
}

Napi::Value Channel::SendFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) {
    ThrowTypeError(env, "sendFrame(type, body): type must be a number");
    return Napi::Value();
  }
  double type = info[0].As<Napi::Number>().DoubleValue();
  if (!(type >= -9007199254740991.0 && type <= 9007199254740991.0) || type != static_cast<double>(ToInt64(type))) {
    ThrowRangeError(env, "sendFrame(type, body): type must be a safe integer");
    return Napi::Value();
  }
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env, "sendFrame(type, body): body must be a Uint8Array or Buffer");
    return Napi::Value();
  }
  Napi::Uint8Array body = info[1].As<Napi::Uint8Array>();
  if (closing_ || ending_) return Napi::Boolean::New(env, false);

  uint8_t header[24];
  size_t headerLength = FrameHeaderSize(mode_);
  if (mode_ == FramingMode::kPlasma) {
    StoreInt64LE(header, 0);
    StoreInt64LE(header + 8, ToInt64(type));
    StoreInt64LE(header + 16, static_cast<int64_t>(body.ByteLength()));
  } else {
    StoreInt64LE(header, static_cast<int64_t>(body.ByteLength()));
  }
  int err = 0;
  WriteQueue::Status status = writer_.WriteFrame(fd_, header, headerLength, body.Data(), body.ByteLength(), &err);
  AfterWrite(status, err);
  return Napi::Boolean::New(env, !closing_);
}

Napi::Value Channel::SendFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!ToFd(env, info[0], "fd", &fd)) return Napi::Value();
  if (closing_ || ending_) return Napi::Boolean::New(env, false);
  // Duplicate now: the caller may close its fd (or let its owner close it) before the queue
  // drains, and a reused number must never send a different file.
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    int err = errno;
    ThrowErrno(env, err, "sendFd(" + std::to_string(fd) + "): cannot duplicate the descriptor: " + ErrnoText(err) +
                             (err == EBADF ? "; pass a descriptor that is open" : ""));
    return Napi::Value();
  }
  int err = 0;
  AfterWrite(writer_.WriteFd(fd_, copy, &err), err);
  return Napi::Boolean::New(env, !closing_);
}

Napi::Value Channel::PauseReading(const Napi::CallbackInfo& info) {
  paused_ = true;
  UpdatePoll();
  return info.Env().Undefined();
}

Napi::Value Channel::ResumeReading(const Napi::CallbackInfo& info) {
  if (paused_ && !closing_) {
    paused_ = false;
    // Frames read before the pause are delivered from the loop, never from inside this call
    // (a handler calling resumeReading() must not be re-entered). Inside Deliver() the running
    // loop simply continues.
    if (started_ && !delivering_ && (reader_->HasBuffered() || eof_)) {
      uv_idle_start(&handles_->idle, OnIdle);
    }
    UpdatePoll();
  }
  return info.Env().Undefined();
}

Napi::Value Channel::RefHandle(const Napi::CallbackInfo& info) {
  if (!closing_ && !refed_) {
    refed_ = true;
    uv_ref(reinterpret_cast<uv_handle_t*>(&handles_->poll));
    uv_ref(reinterpret_cast<uv_handle_t*>(&handles_->idle));
  }
  return info.Env().Undefined();
}

Napi::Value Channel::UnrefHandle(const Napi::CallbackInfo& info) {
  if (!closing_ && refed_) {
    refed_ = false;
    uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->poll));
    uv_unref(reinterpret_cast<uv_handle_t*>(&handles_->idle));
  }
  return info.Env().Undefined();
}

Napi::Value Channel::CloseJs(const Napi::CallbackInfo& info) {
  Shutdown(std::nullopt);
  return info.Env().Undefined();
}

Napi::Value Channel::End(const Napi::CallbackInfo& info) {
  if (!closing_ && !ending_) {
    ending_ = true;
    if (writer_.empty()) Shutdown(std::nullopt);
  }
  return info.Env().Undefined();
}

Napi::Value Channel::GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
Napi::Value Channel::GetPendingWriteBytes(const Napi::CallbackInfo& info) {
  return SizeValue(info.Env(), writer_.pendingBytes());
}
Napi::Value Channel::GetMaxFrameBytes(const Napi::CallbackInfo& info) {
  return SizeValue(info.Env(), reader_ ? reader_->max_frame_bytes() : kDefaultMaxFrameBytes);
}
void Channel::SetMaxFrameBytes(const Napi::CallbackInfo& info, const Napi::Value& value) {
  uint64_t max = 0;
  if (!ToSize(info.Env(), value, "maxFrameBytes", &max)) return;
  if (reader_) reader_->set_max_frame_bytes(max);
}
Napi::Value Channel::GetReadBufferBytes(const Napi::CallbackInfo& info) {
  return SizeValue(info.Env(), reader_ ? reader_->capacity() : 0);
}
Napi::Value Channel::GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closing_); }

// ---- event loop ----------------------------------------------------------------------------

void Channel::OnPoll(uv_poll_t* handle, int status, int events) {
  Channel* self = static_cast<ChannelHandles*>(handle->data)->owner;
  if (self == nullptr || self->closing_) return;
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
  if (events & UV_WRITABLE) self->Flush();
  if (!self->closing_ && (events & UV_READABLE)) self->ReadSome();
  self->UpdatePoll();
}

void Channel::OnIdle(uv_idle_t* handle) {
  uv_idle_stop(handle);
  Channel* self = static_cast<ChannelHandles*>(handle->data)->owner;
  if (self == nullptr || self->closing_) return;
  Napi::HandleScope scope(self->Env());
  self->Deliver();
  self->UpdatePoll();
}

void Channel::ReadSome() {
  for (int i = 0; i < kReadsPerWakeup && !closing_ && !paused_ && !eof_; i++) {
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
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
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
  }
  if (eof_) Deliver();  // delivers what is complete, then closes
}

void Channel::Deliver() {
  if (delivering_) return;  // a handler called back into us; the running loop continues
  delivering_ = true;
  Napi::Env env = Env();
  while (!closing_ && !paused_) {
    FrameReader::Event event = reader_->Next();
    if (event.kind == FrameReader::Event::kNeedMore) break;
    if (event.kind == FrameReader::Event::kError) {
      Shutdown(event.error);
      break;
    }
    Napi::HandleScope scope(env);
    if (event.kind == FrameReader::Event::kFrame) {
      // Copy before calling out: the handler may close the channel, freeing the buffer.
      Napi::Buffer<uint8_t> body = Napi::Buffer<uint8_t>::Copy(env, event.body, event.length);
      Emit(onFrame_, {Napi::Number::New(env, static_cast<double>(event.type)), body});
    } else {
      Emit(onFd_, {Napi::Number::New(env, event.fd)});
    }
  }
  delivering_ = false;
  if (eof_ && !closing_ && !paused_) FinishEof();
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
  napi_env env = Env();
  napi_value result;
  napi_status status = napi_make_callback(env, *asyncContext_, Value(), fn.Value(), args.size(), args.begin(), &result);
  if (status != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      // There is no JS caller to return the exception to: raise it as uncaught, like an
      // exception thrown by a net.Socket 'data' listener. Our state is between two events, so
      // the channel stays consistent whatever the process decides to do.
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
  }
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
  UpdatePoll();
}

void Channel::UpdatePoll() {
  if (closing_) return;
  int events = 0;
  if (started_ && !paused_ && !eof_) events |= UV_READABLE;
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
  if (started_) {
    Napi::Value reason = closeReason_ ? Napi::String::New(env, *closeReason_) : env.Null();
    Emit(onClose_, {reason});
  }
  onFrame_.Reset();
  onFd_.Reset();
  onClose_.Reset();
  asyncContext_.reset();
  if (holdsSelf_) {
    holdsSelf_ = false;
    Unref();
  }
}

}  // namespace plasmapool
