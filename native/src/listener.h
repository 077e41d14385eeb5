// NativeListener: a listening Unix stream socket on Node's event loop. Each accepted connection
// becomes a NativeChannel handed to onConnection.
#pragma once

#include <napi.h>
#include <sys/types.h>
#include <uv.h>

#include <memory>
#include <string>

#include "frame_reader.h"

namespace plasmapool {

class Listener : public Napi::ObjectWrap<Listener> {
 public:
  static Napi::Function Init(Napi::Env env);
  // JS: listen(path, mode, onConnection)
  static Napi::Value Listen(const Napi::CallbackInfo& info);

  explicit Listener(const Napi::CallbackInfo& info);
  ~Listener() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value RefHandle(const Napi::CallbackInfo& info);
  Napi::Value UnrefHandle(const Napi::CallbackInfo& info);
  Napi::Value GetPath(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  void AcceptSome();
  void Shutdown();

  int fd_ = -1;
  int reserveFd_ = -1;  // spent on EMFILE to accept-and-drop instead of spinning (as libuv does)
  uv_poll_t* poll_ = nullptr;
  FramingMode mode_ = FramingMode::kPlasma;
  std::string path_;
  dev_t dev_ = 0;  // identity of the socket file we bound, so close() unlinks only our own
  ino_t ino_ = 0;
  Napi::FunctionReference onConnection_;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
  bool holdsSelf_ = false;
};

}  // namespace plasmapool
