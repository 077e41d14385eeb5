#include "js_args.h"

#include <climits>
#include <cmath>

#include "errors.h"

namespace plasmapool {

bool ToSize(Napi::Env env, const Napi::Value& value, const char* name, uint64_t* out) {
  if (!value.IsNumber()) {
    ThrowTypeError(env, std::string(name) + " must be a number");
    return false;
  }
  double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < 0 || std::floor(d) != d || d > static_cast<double>(kMaxSafeInteger)) {
    ThrowRangeError(env, std::string(name) + " must be an integer in [0, 2^53), got " +
                             value.ToString().Utf8Value());
    return false;
  }
  *out = static_cast<uint64_t>(d);
  return true;
}

bool ToFd(Napi::Env env, const Napi::Value& value, const char* name, int* out) {
  uint64_t v = 0;
  if (!ToSize(env, value, name, &v)) return false;
  if (v > INT_MAX) {
    ThrowRangeError(env, std::string(name) + " is not a valid file descriptor");
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

bool ToString(Napi::Env env, const Napi::Value& value, const char* name, std::string* out) {
  if (!value.IsString()) {
    ThrowTypeError(env, std::string(name) + " must be a string");
    return false;
  }
  *out = value.As<Napi::String>().Utf8Value();
  return true;
}

bool ToFunction(Napi::Env env, const Napi::Value& value, const char* name, Napi::Function* out) {
  if (!value.IsFunction()) {
    ThrowTypeError(env, std::string(name) + " must be a function");
    return false;
  }
  *out = value.As<Napi::Function>();
  return true;
}

}  // namespace plasmapool
