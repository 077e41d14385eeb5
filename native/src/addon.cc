// Module entry: registers the wrapped classes and exports the factory functions typed in
// src/native/index.ts (the single declaration of this API).
#include <napi.h>

#include "addon_data.h"
#include "allocator.h"
#include "channel.h"
#include "dataplane.h"
#include "digest.h"
#include "fd_utils.h"
#include "listener.h"
#include "mapping.h"
#include "object_view.h"
#include "region.h"
#include "sockets.h"

namespace plasmapool {

bool CanCallJs(napi_env env) {
  // Any call behind NAPI_PREAMBLE reports whether JS may run; reading a global is side-effect free.
  // Our own handle scope: libuv callbacks run outside any, and teardown seals the outer one.
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  napi_value global, value;
  bool ok = napi_get_global(env, &global) == napi_ok &&
            napi_get_named_property(env, global, "undefined", &value) == napi_ok;
  napi_close_handle_scope(env, scope);
  return ok;
}

// A unique object: identity is the check, so JS cannot forge it.
Napi::Value ConstructToken(Napi::Env env) { return GetAddonData(env)->constructToken.Value(); }

bool IsConstructToken(const Napi::Value& value) {
  return value.IsObject() && value.StrictEquals(GetAddonData(value.Env())->constructToken.Value());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->constructToken = Napi::Persistent(Napi::Object::New(env));
  data->mappingCtor = Napi::Persistent(Mapping::Init(env));
  data->regionCtor = Napi::Persistent(Region::Init(env));
  data->allocatorCtor = Napi::Persistent(Allocator::Init(env));
  data->channelCtor = Napi::Persistent(Channel::Init(env));
  data->listenerCtor = Napi::Persistent(Listener::Init(env));
  data->dataPlaneCtor = Napi::Persistent(DataPlane::Init(env));
  napi_value script = Napi::String::New(
      env, "(function (capacity, used, free, largestFree, blocks, freeBlocks) {"
           " return { capacity, used, free, largestFree, blocks, freeBlocks }; })");
  napi_value makeStats;
  if (napi_run_script(env, script, &makeStats) != napi_ok) return exports;  // exception pending
  data->makeAllocatorStats = Napi::Persistent(Napi::Value(env, makeStats).As<Napi::Function>());
  env.SetInstanceData(data);

  exports.Set("createRegion", Napi::Function::New<Region::Create>(env, "createRegion"));
  exports.Set("attachRegion", Napi::Function::New<Region::Attach>(env, "attachRegion"));
  exports.Set("mapFd", Napi::Function::New<Mapping::MapFd>(env, "mapFd"));
  exports.Set("detachArrayBuffer", Napi::Function::New<Mapping::DetachArrayBuffer>(env, "detachArrayBuffer"));
  exports.Set("addressOf", Napi::Function::New<Mapping::AddressOf>(env, "addressOf"));
  exports.Set("createAllocator", Napi::Function::New<Allocator::Create>(env, "createAllocator"));
  exports.Set("listen", Napi::Function::New<Listener::Listen>(env, "listen"));
  exports.Set("connect", Napi::Function::New<Connect>(env, "connect"));
  exports.Set("channelFromFd", Napi::Function::New<Channel::FromFd>(env, "channelFromFd"));
  exports.Set("socketPair", Napi::Function::New<SocketPair>(env, "socketPair"));
  exports.Set("closeFd", Napi::Function::New<CloseFd>(env, "closeFd"));
  exports.Set("createDataPlane", Napi::Function::New<DataPlane::Create>(env, "createDataPlane"));
  exports.Set("freeSpace", Napi::Function::New<FreeSpace>(env, "freeSpace"));
  exports.Set("regionInUse", Napi::Function::New<RegionInUse>(env, "regionInUse"));
  exports.Set("plasmaDigest", Napi::Function::New<PlasmaDigestJs>(env, "plasmaDigest"));
  exports.Set("digestWriter", Napi::Function::New<DigestWriterJs>(env, "digestWriter"));
  exports.Set("digestCopy", Napi::Function::New<DigestCopyJs>(env, "digestCopy"));
  exports.Set("digestFinish", Napi::Function::New<DigestFinishJs>(env, "digestFinish"));
  exports.Set("aliasMapping", Napi::Function::New<AliasMapping>(env, "aliasMapping"));
  return exports;
}

}  // namespace plasmapool

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return plasmapool::Init(env, exports); }

NODE_API_MODULE(plasmapool_native, InitAddon)
