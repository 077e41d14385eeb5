#include "listener.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

#include "addon_data.h"
#include "channel.h"
#include "errors.h"
#include "js_args.h"
#include "region_fs.h"
#include "sockets.h"

namespace plasmapool {

namespace {

constexpr int kBacklog = 128;       // as the reference store (§1.1)
constexpr int kAcceptsPerWakeup = 64;

void FreePoll(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

// Is someone accepting on this socket file? A non-blocking connect answers at once:
// ECONNREFUSED means a stale file left by a process that died.
bool SocketIsLive(const sockaddr_un& addr) {
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  int r = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  bool live = r == 0 || errno == EAGAIN || errno == EINPROGRESS;
  close(probe);
  return live;
}

}  // namespace

Napi::Function Listener::Init(Napi::Env env) {
  return DefineClass(env, "NativeListener",
                     {
                         InstanceMethod<&Listener::Close>("close"),
                         InstanceMethod<&Listener::RefHandle>("ref"),
                         InstanceMethod<&Listener::UnrefHandle>("unref"),
                         InstanceAccessor<&Listener::GetPath>("path"),
                         InstanceAccessor<&Listener::GetClosed>("closed"),
                     });
}

Listener::Listener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Listener>(info) {
  if (info.Length() < 1 || !IsConstructToken(info[0])) {
    ThrowTypeError(info.Env(), "NativeListener cannot be constructed directly: use listen()");
  }
}

Listener::~Listener() {
  if (poll_ != nullptr) {
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), FreePoll);
  }
  if (fd_ >= 0) close(fd_);
  if (reserveFd_ >= 0) close(reserveFd_);
}

Napi::Value Listener::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path, modeText;
  FramingMode mode;
  Napi::Function onConnection;
  if (!ToString(env, info[0], "path", &path) || !ToString(env, info[1], "mode", &modeText) ||
      !ToFunction(env, info[2], "onConnection", &onConnection)) {
    return Napi::Value();
  }
  if (!ParseFramingMode(modeText, &mode)) {
    ThrowTypeError(env, "mode must be 'plasma' or 'length64', got '" + modeText + "'");
    return Napi::Value();
  }
  sockaddr_un addr;
  if (!SocketAddress(env, path, &addr)) return Napi::Value();

  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      ThrowError(env, "EEXIST", path + " exists and is not a socket: remove it or choose another socket path");
      return Napi::Value();
    }
    if (SocketIsLive(addr)) {
      ThrowError(env, "EADDRINUSE",
                 "another process is listening on " + path + ": stop it or choose another socket path");
      return Napi::Value();
    }
    unlink(path.c_str());  // stale socket of a process that died
  }

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    ThrowErrno(env, err, "cannot create a socket: " + ErrnoText(err));
    return Napi::Value();
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    std::string dir = DirName(path);
    if (err == ENOENT) {
      ThrowErrno(env, err, "cannot listen on " + path + ": directory " + dir + " does not exist; create it or choose another socket path");
    } else if (err == EACCES || err == EPERM) {
      ThrowErrno(env, err, "cannot listen on " + path + ": permission denied in " + dir + " (uid " +
                               std::to_string(geteuid()) + "); choose a directory this user can write");
    } else {
      ThrowErrno(env, err, "cannot listen on " + path + ": " + ErrnoText(err));
    }
    return Napi::Value();
  }
  // Owner-only before listen(): a connect() to a socket that is not listening is refused, so no
  // other user can reach this socket at any instant, whatever the umask (docs/protocol.md §1.1).
  if (chmod(path.c_str(), 0600) != 0) {
    int err = errno;
    close(fd);
    unlink(path.c_str());
    ThrowErrno(env, err, "cannot make " + path + " owner-only (chmod 0600): " + ErrnoText(err));
    return Napi::Value();
  }
  if (listen(fd, kBacklog) != 0 || lstat(path.c_str(), &st) != 0) {
    int err = errno;
    close(fd);
    unlink(path.c_str());
    ThrowErrno(env, err, "cannot listen on " + path + ": " + ErrnoText(err));
    return Napi::Value();
  }

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  auto* poll = new uv_poll_t;
  int r = uv_poll_init(loop, poll, fd);
  if (r != 0) {
    delete poll;
    close(fd);
    unlink(path.c_str());
    ThrowError(env, uv_err_name(r), std::string("cannot poll the listening socket: ") + uv_strerror(r));
    return Napi::Value();
  }
  Napi::Object obj = GetAddonData(env)->listenerCtor.New({ConstructToken(env)});
  if (obj.IsEmpty() || env.IsExceptionPending()) {
    uv_close(reinterpret_cast<uv_handle_t*>(poll), FreePoll);
    close(fd);
    unlink(path.c_str());
    return Napi::Value();
  }
  Listener* self = Listener::Unwrap(obj);
  self->fd_ = fd;
  self->poll_ = poll;
  poll->data = self;
  self->mode_ = mode;
  self->path_ = path;
  self->dev_ = st.st_dev;
  self->ino_ = st.st_ino;
  self->reserveFd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  self->onConnection_ = Napi::Persistent(onConnection);
  self->asyncContext_ = std::make_unique<Napi::AsyncContext>(env, "PlasmapoolListener", obj);
  self->Ref();  // strong while listening
  self->holdsSelf_ = true;
  uv_poll_start(poll, UV_READABLE, OnPoll);
  return obj;
}

void Listener::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<Listener*>(handle->data);
  if (self == nullptr || status < 0) return;
  if (!CanCallJs(self->Env())) {
    uv_poll_stop(handle);  // environment teardown: nobody could take the connection
    return;
  }
  self->AcceptSome();
}

void Listener::AcceptSome() {
  Napi::Env env = Env();
  for (int i = 0; i < kAcceptsPerWakeup && fd_ >= 0; i++) {
    int conn = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0) {
      int err = errno;
      if (err == EINTR || err == ECONNABORTED) continue;
      if ((err == EMFILE || err == ENFILE) && reserveFd_ >= 0) {
        // Out of descriptors: a pending connection would wake us forever. Spend the reserve to
        // accept it and hang up; the client sees EOF instead of a hung connect.
        close(reserveFd_);
        int dropped = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (dropped >= 0) close(dropped);
        reserveFd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        continue;
      }
      return;  // EAGAIN, or an error that a later wakeup may not repeat
    }
    Napi::HandleScope scope(env);
    Napi::Value channel = Channel::NewInstance(env, conn, mode_);
    if (channel.IsEmpty()) {
      if (env.IsExceptionPending()) env.GetAndClearPendingException();
      continue;
    }
    napi_value result;
    napi_value argv[] = {channel};
    if (napi_make_callback(env, *asyncContext_, Value(), onConnection_.Value(), 1, argv, &result) != napi_ok) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value exception;
        napi_get_and_clear_last_exception(env, &exception);
        napi_fatal_exception(env, exception);
      }
    }
  }
}

void Listener::Shutdown() {
  if (fd_ < 0) return;
  poll_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(poll_), FreePoll);
  poll_ = nullptr;
  close(fd_);
  fd_ = -1;
  if (reserveFd_ >= 0) close(reserveFd_);
  reserveFd_ = -1;
  // Remove the socket file only if it is still the one we bound (another listener may have
  // replaced it since).
  struct stat st;
  if (lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ && st.st_ino == ino_) {
    unlink(path_.c_str());
  }
  onConnection_.Reset();
  asyncContext_.reset();
  if (holdsSelf_) {
    holdsSelf_ = false;
    Unref();
  }
}

Napi::Value Listener::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  return info.Env().Undefined();
}

Napi::Value Listener::RefHandle(const Napi::CallbackInfo& info) {
  if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.Env().Undefined();
}

Napi::Value Listener::UnrefHandle(const Napi::CallbackInfo& info) {
  if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.Env().Undefined();
}

Napi::Value Listener::GetPath(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), path_); }
Napi::Value Listener::GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }

}  // namespace plasmapool
