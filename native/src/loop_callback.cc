#include "loop_callback.h"

namespace plasmapool {

void CallFromLoop(napi_env env, napi_async_context context, napi_value receiver, napi_value fn, size_t argc,
                  const napi_value* argv) {
  napi_value result;
  if (napi_make_callback(env, context, receiver, fn, argc, argv, &result) == napi_ok) return;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) return;
  // The caller's state is between two events, so it stays consistent whatever the process
  // decides to do with the exception.
  napi_value exception;
  napi_get_and_clear_last_exception(env, &exception);
  napi_fatal_exception(env, exception);
}

}  // namespace plasmapool
