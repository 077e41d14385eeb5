// Error helpers shared by every part of the addon.
//
// The addon is built without C++ exceptions (NAPI_DISABLE_CPP_EXCEPTIONS, -fno-exceptions): a
// failing call throws a JS Error and returns an empty value. Every thrown Error carries a `code`
// (an errno name such as "ENOSPC", or a plasmapool code such as "ERR_BAD_MAGIC") so the
// TypeScript layer can branch on it without parsing messages.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace plasmapool {

// "ENOENT" for ENOENT, "E123" for an errno glibc does not name.
std::string ErrnoName(int err);
// "No such file or directory (ENOENT)".
std::string ErrnoText(int err);
// "1.50 GiB (1610612736 bytes)": sizes in messages are meant for a human deciding what to do.
std::string FormatBytes(uint64_t bytes);

// Throw `new Error(message)` with `error.code = code`. Returns nothing useful; callers return
// an empty value right after.
void ThrowError(Napi::Env env, const std::string& code, const std::string& message);
void ThrowErrno(Napi::Env env, int err, const std::string& message);
void ThrowTypeError(Napi::Env env, const std::string& message);
void ThrowRangeError(Napi::Env env, const std::string& message);

}  // namespace plasmapool
