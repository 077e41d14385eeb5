#include "object_view.h"

#include <v8.h>

#include <cstring>
#include <memory>
#include <string>

#include "errors.h"
#include "js_args.h"

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

Napi::Value AliasArrayBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer()) {
    ThrowTypeError(env, "aliasArrayBuffer(): window must be an ArrayBuffer (a NativeMapping window)");
    return Napi::Value();
  }
  Napi::ArrayBuffer window = info[0].As<Napi::ArrayBuffer>();
  uint64_t offset = 0, length = 0;
  if (!ToSize(env, info[1], "byteOffset", &offset) || !ToSize(env, info[2], "length", &length)) return Napi::Value();
  uint64_t size = window.ByteLength();
  if (offset > size || length > size - offset) {
    ThrowRangeError(env, "aliasArrayBuffer(): [" + std::to_string(offset) + ", " + std::to_string(offset + length) +
                             ") lies outside the window of " + std::to_string(size) + " bytes");
    return Napi::Value();
  }
  // Nothing to alias: a plain empty ArrayBuffer is equivalent (and detachable).
  if (length == 0) return Napi::ArrayBuffer::New(env, 0);
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(
      static_cast<uint8_t*>(window.Data()) + offset, length, v8::BackingStore::EmptyDeleter, nullptr);
  v8::Local<v8::ArrayBuffer> alias = v8::ArrayBuffer::New(isolate, std::move(store));
  return Napi::Value(env, ToNapi(alias));
}

}  // namespace plasmapool
