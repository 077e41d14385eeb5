// NativeRegion: the JS face of a created or attached region (see region_open.h for the work).
//
// The region owns its descriptor explicitly: close() closes it, garbage collection never does.
// (A collected view that closed an fd once made later sendmsg calls fail with EBADF, or pass a
// reused fd number that named another file.) The mapping is a NativeMapping held strongly here.
#pragma once

#include <napi.h>

#include <string>

#include "region_header.h"

namespace plasmapool {

class Region : public Napi::ObjectWrap<Region> {
 public:
  static Napi::Function Init(Napi::Env env);
  // JS: createRegion(options)
  static Napi::Value Create(const Napi::CallbackInfo& info);
  // JS: attachRegion(path, options?)
  static Napi::Value Attach(const Napi::CallbackInfo& info);

  explicit Region(const Napi::CallbackInfo& info);
  ~Region() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetPath(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value GetUuid(const Napi::CallbackInfo& info);
  Napi::Value GetNodeName(const Napi::CallbackInfo& info);
  Napi::Value GetLayoutVersion(const Napi::CallbackInfo& info);
  Napi::Value GetIndexSlots(const Napi::CallbackInfo& info);
  Napi::Value GetIndexOffset(const Napi::CallbackInfo& info);
  Napi::Value GetDataOffset(const Napi::CallbackInfo& info);
  Napi::Value GetCapacity(const Napi::CallbackInfo& info);
  Napi::Value GetMapLength(const Napi::CallbackInfo& info);
  Napi::Value GetCreatedAt(const Napi::CallbackInfo& info);
  Napi::Value GetReadOnly(const Napi::CallbackInfo& info);
  Napi::Value GetKind(const Napi::CallbackInfo& info);
  Napi::Value GetMapping(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  static Napi::Value Wrap(Napi::Env env, const std::string& path, struct RegionState* state);

  std::string path_;
  int fd_ = -1;
  int lockFd_ = -1;
  bool readOnly_ = false;
  RegionKind kind_ = RegionKind::kFile;
  RegionHeader header_;
  Napi::ObjectReference mapping_;
};

}  // namespace plasmapool
