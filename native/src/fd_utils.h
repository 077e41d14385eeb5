// Small descriptor and filesystem utilities exported to JS.
#pragma once

#include <napi.h>

namespace plasmapool {

// JS: closeFd(fd)
Napi::Value CloseFd(const Napi::CallbackInfo& info);
// JS: freeSpace(path)
Napi::Value FreeSpace(const Napi::CallbackInfo& info);
// JS: regionInUse(path): does a live process hold the region's owner lock?
Napi::Value RegionInUse(const Napi::CallbackInfo& info);

}  // namespace plasmapool
