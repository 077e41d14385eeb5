#include "object_view.h"

#include <v8.h>

#include <cstring>
#include <memory>
#include <string>

#include "addon_data.h"
#include "errors.h"
#include "js_args.h"
#include "mapping.h"

namespace plasmapool {

namespace {

// N-API's own representation of a value (node's js_native_api_v8.h): the handle's address.
napi_value ToNapi(v8::Local<v8::Value> local) {
  static_assert(sizeof(napi_value) == sizeof(v8::Local<v8::Value>), "napi_value is a v8::Local");
  napi_value value;
  std::memcpy(static_cast<void*>(&value), &local, sizeof(value));
  return value;
}

}  // namespace

Napi::Value AliasMapping(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value ctor = GetAddonData(env)->mappingCtor.Value();
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(ctor.As<Napi::Function>())) {
    ThrowTypeError(env, "aliasMapping(): the first argument must be a NativeMapping");
    return Napi::Value();
  }
  Mapping* mapping = Mapping::Unwrap(info[0].As<Napi::Object>());
  if (mapping == nullptr) return Napi::Value();
  uint64_t offset = 0, length = 0;
  if (!ToSize(env, info[1], "offset", &offset) || !ToSize(env, info[2], "length", &length)) return Napi::Value();
  if (mapping->base() == nullptr) {
    ThrowError(env, "ERR_CLOSED", "aliasMapping(): the mapping is closed");
    return Napi::Value();
  }
  uint64_t size = mapping->length();
  if (offset > size || length > size - offset) {
    ThrowRangeError(env, "aliasMapping(): [" + std::to_string(offset) + ", " + std::to_string(offset + length) +
                             ") lies outside the mapping of " + std::to_string(size) + " bytes");
    return Napi::Value();
  }
  if (length > kWindowSpanMax) {
    ThrowRangeError(env, "aliasMapping(): " + FormatBytes(length) + " exceeds the largest ArrayBuffer (" +
                             FormatBytes(kWindowSpanMax) + ")");
    return Napi::Value();
  }
  // Nothing to alias: a plain empty ArrayBuffer is equivalent (and detachable).
  if (length == 0) return Napi::ArrayBuffer::New(env, 0);
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(mapping->base() + offset, length, v8::BackingStore::EmptyDeleter, nullptr);
  v8::Local<v8::ArrayBuffer> alias = v8::ArrayBuffer::New(isolate, std::move(store));
  return Napi::Value(env, ToNapi(alias));
}

}  // namespace plasmapool
