// Argument validation at the JS boundary: every number that becomes a size, offset or fd is
// checked here once, with a TypeError/RangeError naming the argument.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace plasmapool {

// 2^53: the largest integer a JS number carries exactly. Sizes and offsets above it are refused.
constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

// A non-negative integer JS number <= 2^53 - 1. Throws and returns false otherwise.
bool ToSize(Napi::Env env, const Napi::Value& value, const char* name, uint64_t* out);
// A descriptor number (integer in [0, INT32_MAX]). Throws and returns false otherwise.
bool ToFd(Napi::Env env, const Napi::Value& value, const char* name, int* out);
// A string argument. Throws and returns false otherwise.
bool ToString(Napi::Env env, const Napi::Value& value, const char* name, std::string* out);
// A function argument. Throws and returns false otherwise.
bool ToFunction(Napi::Env env, const Napi::Value& value, const char* name, Napi::Function* out);

// Exact JS number for a uint64 the caller knows is <= 2^53.
inline Napi::Number SizeValue(Napi::Env env, uint64_t value) {
  return Napi::Number::New(env, static_cast<double>(value));
}

}  // namespace plasmapool
