// NativeAllocator: the JS face of BestFitAllocator. Offsets and sizes cross as JS numbers
// (exact up to 2^53); -1 means "does not fit".
#pragma once

#include <napi.h>

#include <memory>

#include "allocator_core.h"

namespace plasmapool {

class Allocator : public Napi::ObjectWrap<Allocator> {
 public:
  static Napi::Function Init(Napi::Env env);
  // JS: createAllocator(base, size)
  static Napi::Value Create(const Napi::CallbackInfo& info);

  explicit Allocator(const Napi::CallbackInfo& info);
  // For the data plane (issue 10), which allocates on the native Create path.
  BestFitAllocator* core() { return core_.get(); }

 private:
  Napi::Value Allocate(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value Reserve(const Napi::CallbackInfo& info);
  Napi::Value SizeOf(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  std::unique_ptr<BestFitAllocator> core_;
};

}  // namespace plasmapool
