#include "fd_utils.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "errors.h"
#include "js_args.h"
#include "region_fs.h"

namespace plasmapool {

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!ToFd(env, info[0], "fd", &fd)) return Napi::Value();
  // No retry on EINTR: on Linux the descriptor is released even then.
  if (close(fd) != 0 && errno != EINTR) {
    int err = errno;
    ThrowErrno(env, err, "closeFd(" + std::to_string(fd) + "): " + ErrnoText(err));
    return Napi::Value();
  }
  return env.Undefined();
}

Napi::Value FreeSpace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!ToString(env, info[0], "path", &path)) return Napi::Value();
  uint64_t bytes = 0;
  if (int err = FreeBytes(path, &bytes)) {
    ThrowErrno(env, err, "freeSpace(" + path + "): " + ErrnoText(err));
    return Napi::Value();
  }
  return SizeValue(env, std::min(bytes, kMaxSafeInteger));
}

Napi::Value RegionInUse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!ToString(env, info[0], "path", &path)) return Napi::Value();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Napi::Boolean::New(env, false);
    ThrowErrno(env, err, "regionInUse(" + path + "): " + ErrnoText(err));
    return Napi::Value();
  }
  // A shared lock is refused exactly while an owner holds its exclusive one.
  bool inUse = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);  // also drops our shared lock, if we got it
  return Napi::Boolean::New(env, inUse);
}

}  // namespace plasmapool
