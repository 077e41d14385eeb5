// NativeChannel, the JS-facing half: construction, methods and accessors. The event-loop half
// (reading, delivery, writing, closing) is in channel_io.cc.
#include "channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "addon_data.h"
#include "errors.h"
#include "js_args.h"

namespace plasmapool {

namespace {

int64_t ToInt64(double d) { return static_cast<int64_t>(d); }

void StoreInt64LE(uint8_t* p, int64_t v) { memcpy(p, &v, sizeof(v)); }

}  // namespace

Napi::Function Channel::Init(Napi::Env env) {
  return DefineClass(env, "NativeChannel",
                     {
                         InstanceMethod<&Channel::Start>("start"),
                         InstanceMethod<&Channel::SendFrame>("sendFrame"),
                         InstanceMethod<&Channel::SendFd>("sendFd"),
                         InstanceMethod<&Channel::AwaitReadable>("awaitReadable"),
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
                         InstanceAccessor<&Channel::GetOutputLimitBytes, &Channel::SetOutputLimitBytes>("outputLimitBytes"),
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
  if (obj.IsEmpty() || env.IsExceptionPending()) {
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

// Spin until the socket has bytes to read or `micros` (at most 1,000) have passed; true if it has.
// A client that has sent a request and has nothing else to do waits for the reply here, awake,
// instead of in the event loop: a CPU that goes idle is halted, and waking it again costs more
// than the few microseconds the store takes to answer (docs/performance.md part 4).
Napi::Value Channel::AwaitReadable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double micros = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  if (!(micros > 0) || closing_) return Napi::Boolean::New(env, false);
  uint64_t deadline = uv_hrtime() + static_cast<uint64_t>(std::min(micros, 1000.0) * 1000);
  struct pollfd p = {fd_, POLLIN, 0};
  do {
    if (poll(&p, 1, 0) > 0) return Napi::Boolean::New(env, true);
  } while (uv_hrtime() < deadline);
  return Napi::Boolean::New(env, false);
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
    ScheduleDelivery();
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
Napi::Value Channel::GetOutputLimitBytes(const Napi::CallbackInfo& info) {
  return SizeValue(info.Env(), outputLimit_);
}
void Channel::SetOutputLimitBytes(const Napi::CallbackInfo& info, const Napi::Value& value) {
  uint64_t limit = 0;
  if (!ToSize(info.Env(), value, "outputLimitBytes", &limit)) return;
  outputLimit_ = limit;
  if (started_ && !closing_) {
    ScheduleDelivery();
    UpdatePoll();
  }
}
Napi::Value Channel::GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closing_); }

}  // namespace plasmapool
