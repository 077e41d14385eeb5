// Calling JS from the event loop (a poll or idle callback), where no JS caller exists to take an
// exception: a proper callback scope (napi_make_callback, so microtasks run after it), and an
// exception raised as uncaught, like one thrown by a net.Socket 'data' listener.
#pragma once

#include <node_api.h>

namespace plasmapool {

void CallFromLoop(napi_env env, napi_async_context context, napi_value receiver, napi_value fn, size_t argc,
                  const napi_value* argv);

}  // namespace plasmapool
