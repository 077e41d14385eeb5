// Small descriptor and filesystem utilities exported to JS.
#pragma once

#include <napi.h>

namespace plasmapool {

// JS: closeFd(fd)
Napi::Value CloseFd(const Napi::CallbackInfo& info);
// JS: freeSpace(path)
Napi::Value FreeSpace(const Napi::CallbackInfo& info);

}  // namespace plasmapool
