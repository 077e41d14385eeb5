// NativeChannel: a Unix stream socket on Node's own event loop (uv_poll, no threads).
//
// Reading: recvmsg with a control buffer, always (a plain read() silently drops SCM_RIGHTS
// descriptors), framed by FrameReader; events reach JS in stream order through
// napi_make_callback, so a throwing handler becomes an uncaught exception and never leaves the
// native state half-updated. Writing: one ordered non-blocking WriteQueue.
//
// Lifetime: while the socket is open the JS object is held strongly (a channel whose only
// reference is the event loop must not be collected). close() stops polling, closes the fd and
// uv_close()s the handles; onClose fires from the handles' close callback, i.e. always
// asynchronously and exactly once, after which the strong reference is dropped.
#pragma once

#include <napi.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <string>

#include "frame_reader.h"
#include "write_queue.h"

namespace plasmapool {

class Channel;
class DataPlane;

// libuv handles live apart from the Channel because their memory must outlive uv_close.
struct ChannelHandles {
  uv_poll_t poll;
  uv_idle_t idle;   // runs Deliver() after resumeReading() when bytes are already buffered
  Channel* owner;   // null once the Channel is gone
  int open;         // handles not yet closed
};

class Channel : public Napi::ObjectWrap<Channel> {
 public:
  static constexpr uint64_t kDefaultMaxFrameBytes = uint64_t{256} << 20;

  static Napi::Function Init(Napi::Env env);
  // Wrap a connected stream socket, taking ownership (closed if wrapping fails).
  static Napi::Value NewInstance(Napi::Env env, int fd, FramingMode mode);
  // JS: channelFromFd(fd, mode)
  static Napi::Value FromFd(const Napi::CallbackInfo& info);

  explicit Channel(const Napi::CallbackInfo& info);
  ~Channel() override;

  // ---- data plane hook (issue 10, docs/object-table.md §3; defined in dataplane_hooks.cc) ----
  // Frames are offered to `dataPlane` before JS; `owner` is its JS object, kept alive by us.
  void AttachDataPlane(DataPlane* dataPlane, Napi::Value owner, uint32_t client);
  // Queue one reply frame built natively, in order with everything else this channel sends.
  void WriteReply(int64_t type, const uint8_t* body, size_t length);

 private:
  bool Setup(Napi::Env env, int fd, FramingMode mode);

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value SendFrame(const Napi::CallbackInfo& info);
  Napi::Value SendFd(const Napi::CallbackInfo& info);
  Napi::Value AwaitReadable(const Napi::CallbackInfo& info);
  Napi::Value PauseReading(const Napi::CallbackInfo& info);
  Napi::Value ResumeReading(const Napi::CallbackInfo& info);
  Napi::Value RefHandle(const Napi::CallbackInfo& info);
  Napi::Value UnrefHandle(const Napi::CallbackInfo& info);
  Napi::Value CloseJs(const Napi::CallbackInfo& info);
  Napi::Value End(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value GetPendingWriteBytes(const Napi::CallbackInfo& info);
  Napi::Value GetMaxFrameBytes(const Napi::CallbackInfo& info);
  void SetMaxFrameBytes(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value GetReadBufferBytes(const Napi::CallbackInfo& info);
  Napi::Value GetOutputLimitBytes(const Napi::CallbackInfo& info);
  void SetOutputLimitBytes(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnIdle(uv_idle_t* handle);
  static void OnHandleClosed(uv_handle_t* handle);

  void ReadSome();
  void Deliver();
  void FinishEof();
  void Flush();
  void AfterWrite(WriteQueue::Status status, int err);
  void UpdatePoll();
  // Back-pressure: reading and delivery stop while more than outputLimit_ bytes of replies wait
  // to be written (a client that pipelines requests without reading its replies), or while frames
  // already read wait for the next loop iteration (the per-wakeup budget, for fairness).
  bool OutputBacklogged() const { return outputLimit_ > 0 && writer_.pendingBytes() > outputLimit_; }
  bool Held() const { return deferred_ || OutputBacklogged(); }
  void ScheduleDelivery();
  // Close now (idempotent); onClose(reason) follows from the handle close callback.
  void Shutdown(std::optional<std::string> reason);
  void FinishClose();
  void Emit(Napi::FunctionReference& fn, std::initializer_list<napi_value> args);

  int fd_ = -1;
  FramingMode mode_ = FramingMode::kPlasma;
  ChannelHandles* handles_ = nullptr;
  std::unique_ptr<FrameReader> reader_;
  WriteQueue writer_;
  Napi::FunctionReference onFrame_, onFd_, onClose_;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
  std::optional<std::string> closeReason_;
  std::string eofReason_;  // set when the stream ended by a read error rather than EOF
  int polling_ = 0;        // uv_poll events currently requested
  uint64_t outputLimit_ = 0;  // 0: no limit (clients); stores set one per connection
  int frameBudget_ = 0;       // frames still deliverable in this loop iteration
  bool deferred_ = false;     // complete frames wait for the next iteration (budget spent)
  bool started_ = false;
  bool paused_ = false;
  bool eof_ = false;
  bool ending_ = false;
  bool closing_ = false;   // Shutdown() ran: fd closed, handles closing
  bool finished_ = false;  // onClose delivered (or would have been)
  bool writeBlocked_ = false;
  bool delivering_ = false;
  bool refed_ = true;
  bool holdsSelf_ = false;
  // ---- data plane hook (issue 10) ----
  DataPlane* dataPlane_ = nullptr;
  uint32_t dataPlaneClient_ = 0;
  Napi::ObjectReference dataPlaneRef_;
};

}  // namespace plasmapool
