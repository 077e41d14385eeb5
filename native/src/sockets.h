// Socket set-up outside any channel: Unix-socket addresses, the blocking connect, socketpair.
#pragma once

#include <napi.h>
#include <sys/un.h>

#include <string>

namespace plasmapool {

// sun_path holds 108 bytes including the NUL.
constexpr size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;

// Fill addr for path; throws ("socket path too long ...") and returns false if it does not fit.
bool SocketAddress(Napi::Env env, const std::string& path, sockaddr_un* addr);

// JS: connect(path, mode)
Napi::Value Connect(const Napi::CallbackInfo& info);
// JS: socketPair()
Napi::Value SocketPair(const Napi::CallbackInfo& info);

}  // namespace plasmapool
