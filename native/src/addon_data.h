// Per-environment state of the addon: the constructors of the wrapped classes, so that factory
// functions (createRegion, connect, ...) can build instances. Stored with napi_set_instance_data
// so that worker threads each get their own copy.
#pragma once

#include <napi.h>

namespace plasmapool {

struct AddonData {
  Napi::FunctionReference mappingCtor;
  Napi::FunctionReference regionCtor;
  Napi::FunctionReference allocatorCtor;
  Napi::FunctionReference channelCtor;
  Napi::FunctionReference listenerCtor;
  Napi::FunctionReference dataPlaneCtor;
  Napi::ObjectReference constructToken;
  Napi::FunctionReference makeAllocatorStats;  // see Allocator::Stats
};

inline AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

// False while the environment is being torn down: Node runs the event loop once more inside
// FreeEnvironment with JS disallowed, so a libuv callback of ours may fire when it can no longer
// call into JS (or construct objects). Callbacks check this first and stand down.
bool CanCallJs(napi_env env);

// Wrapped classes refuse `new` from JS: their constructors require this token as the first
// argument, which only C++ can pass (JS sees the classes through `obj.constructor`).
Napi::Value ConstructToken(Napi::Env env);
bool IsConstructToken(const Napi::Value& value);

}  // namespace plasmapool
