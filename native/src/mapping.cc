#include "mapping.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "addon_data.h"
#include "errors.h"
#include "js_args.h"
#include "map_shared.h"

namespace plasmapool {

namespace {

uint64_t PageSize() { return static_cast<uint64_t>(sysconf(_SC_PAGESIZE)); }

// What a window ArrayBuffer holds: a reference on the mapping, and the bytes it took off V8's
// external-memory count (see NewWindowBuffer).
struct WindowHold {
  MappedMemory* memory;
  int64_t uncounted;
};

void FinalizeWindow(napi_env env, void* /*data*/, void* hint) {
  auto* hold = static_cast<WindowHold*>(hint);
  if (hold->uncounted != 0) {
    int64_t total = 0;
    napi_adjust_external_memory(env, hold->uncounted, &total);
  }
  hold->memory->Release();
  delete hold;
}

}  // namespace

void* MapSharedOrThrow(Napi::Env env, int fd, uint64_t length, bool readOnly, const std::string& what) {
  int err = 0;
  void* base = MapShared(fd, length, readOnly, &err);
  if (base == nullptr) ThrowErrno(env, err, MapFailureMessage(err, length, readOnly, what));
  return base;
}

Napi::Function Mapping::Init(Napi::Env env) {
  return DefineClass(env, "NativeMapping",
                     {
                         InstanceMethod<&Mapping::Window>("window"),
                         InstanceMethod<&Mapping::Slice>("slice"),
                         InstanceMethod<&Mapping::Address>("address"),
                         InstanceMethod<&Mapping::Close>("close"),
                         InstanceAccessor<&Mapping::GetLength>("length"),
                         InstanceAccessor<&Mapping::GetReadOnly>("readOnly"),
                         InstanceAccessor<&Mapping::GetClosed>("closed"),
                     });
}

Napi::Object Mapping::NewInstance(Napi::Env env, MappedMemory* memory, bool readOnly) {
  Napi::Object obj = GetAddonData(env)->mappingCtor.New({ConstructToken(env)});
  if (obj.IsEmpty() || env.IsExceptionPending()) {
    memory->Release();
    return Napi::Object();
  }
  Mapping* self = Mapping::Unwrap(obj);
  self->memory_ = memory;
  self->length_ = memory->length();
  self->readOnly_ = readOnly;
  self->windows_.resize((memory->length() + kWindowStride - 1) / kWindowStride);
  return obj;
}

Mapping::Mapping(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Mapping>(info) {
  if (info.Length() < 1 || !IsConstructToken(info[0])) {
    ThrowTypeError(info.Env(), "NativeMapping cannot be constructed directly: use mapFd() or region.mapping");
  }
}

Mapping::~Mapping() {
  // The owner object itself was collected without close(): nobody can use it any more, so drop
  // the owner reference (windows still hold theirs). Unlike fds, memory is safe to release here.
  CloseOwner();
}

void Mapping::CloseOwner() {
  if (memory_ == nullptr) return;
  for (auto& ref : windows_) ref.Reset();
  memory_->Release();
  memory_ = nullptr;
}

Napi::Value Mapping::NewWindowBuffer(Napi::Env env, uint64_t start, uint64_t span) {
  napi_value result;
  memory_->AddRef();
  // V8 counts an ArrayBuffer's bytes as external memory and collects harder as that grows, but
  // mapped shared memory costs the heap nothing: without this, every 100 MB object view forced
  // mark-compacts ("external memory pressure"). Take the bytes off before creating the buffer
  // (so creating it never triggers a collection); the finalizer gives them back.
  auto* hold = new WindowHold{memory_, 0};
  int64_t total = 0;
  if (napi_adjust_external_memory(env, -static_cast<int64_t>(span), &total) == napi_ok) {
    hold->uncounted = static_cast<int64_t>(span);
  }
  napi_status status = napi_create_external_arraybuffer(env, memory_->base() + start, span,
                                                        FinalizeWindow, hold, &result);
  if (status != napi_ok) {
    // Node 20 runs the finalizer even when creation fails (Buffer::New calls it before
    // throwing), so the reference taken above is released there; releasing here would be the
    // double free node-addon-api commits. Worst case on another runtime: the mapping leaks.
    if (!env.IsExceptionPending()) {
      ThrowError(env, "ERR_WINDOW", "cannot create an ArrayBuffer over mapped memory (napi status " +
                                        std::to_string(status) + ")");
    }
    return Napi::Value();
  }
  return Napi::Value(env, result);
}

bool Mapping::CheckRange(Napi::Env env, const Napi::CallbackInfo& info, const char* what, uint64_t* offset,
                         uint64_t* length) {
  if (!ToSize(env, info[0], "offset", offset) || !ToSize(env, info[1], "length", length)) return false;
  if (memory_ == nullptr) {
    ThrowError(env, "ERR_CLOSED", std::string(what) + "(): the mapping is closed");
    return false;
  }
  if (*offset > length_ || *length > length_ - *offset) {
    ThrowRangeError(env, std::string(what) + "(): [" + std::to_string(*offset) + ", " +
                             std::to_string(*offset + *length) + ") lies outside the mapping of " +
                             std::to_string(length_) + " bytes");
    return false;
  }
  if (*length > kWindowSpanMax) {
    ThrowRangeError(env, std::string(what) + "(): " + FormatBytes(*length) + " exceeds the largest ArrayBuffer (" +
                             FormatBytes(kWindowSpanMax) + "): read it in several pieces");
    return false;
  }
  return true;
}

Napi::Value Mapping::Slice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset = 0, length = 0;
  if (!CheckRange(env, info, "slice", &offset, &length)) return Napi::Value();
  // An empty external ArrayBuffer has no backing store to finalize; a plain one is equivalent.
  if (length == 0) return Napi::ArrayBuffer::New(env, 0);
  return NewWindowBuffer(env, offset, length);
}

Napi::Value Mapping::Window(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset = 0, length = 0;
  if (!CheckRange(env, info, "window", &offset, &length)) return Napi::Value();

  // The cached window holding offset (an empty range at the very end belongs to the last one).
  uint64_t index = std::min<uint64_t>(offset / kWindowStride, windows_.size() - 1);
  uint64_t start = index * kWindowStride;
  uint64_t span = std::min(kWindowSpanMax, length_ - start);
  Napi::Value buffer;
  if (offset + length <= start + span) {
    Napi::Reference<Napi::ArrayBuffer>& ref = windows_[index];
    if (!ref.IsEmpty()) buffer = ref.Value();
    if (buffer.IsEmpty() || buffer.IsUndefined()) {
      buffer = NewWindowBuffer(env, start, span);
      if (buffer.IsEmpty()) return Napi::Value();
      ref = Napi::Weak(buffer.As<Napi::ArrayBuffer>());
    }
  } else {
    // A range longer than 2 GiB - 64 KiB that straddles the stride windows: give it a window of
    // its own starting at its page, not cached (rare: objects this large are unusual).
    start = offset & ~(PageSize() - 1);
    span = std::min(kWindowSpanMax, length_ - start);
    if (offset + length > start + span) {
      ThrowRangeError(env, "window [" + std::to_string(offset) + ", " + std::to_string(offset + length) +
                               ") does not fit in one ArrayBuffer of at most " + FormatBytes(kWindowSpanMax));
      return Napi::Value();
    }
    buffer = NewWindowBuffer(env, start, span);
    if (buffer.IsEmpty()) return Napi::Value();
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("buffer", buffer);
  result.Set("byteOffset", SizeValue(env, offset - start));
  return result;
}

Napi::Value Mapping::Address(const Napi::CallbackInfo& info) {
  if (memory_ == nullptr) {
    ThrowError(info.Env(), "ERR_CLOSED", "address(): the mapping is closed");
    return Napi::Value();
  }
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(memory_->base())));
}

Napi::Value Mapping::Close(const Napi::CallbackInfo& info) {
  CloseOwner();
  return info.Env().Undefined();
}

Napi::Value Mapping::GetLength(const Napi::CallbackInfo& info) { return SizeValue(info.Env(), length_); }
Napi::Value Mapping::GetReadOnly(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), readOnly_);
}
Napi::Value Mapping::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), memory_ == nullptr);
}

Napi::Value Mapping::MapFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  uint64_t length = 0;
  if (!ToFd(env, info[0], "fd", &fd) || !ToSize(env, info[1], "length", &length)) return Napi::Value();
  if (!info[2].IsBoolean()) {
    ThrowTypeError(env, "readOnly must be a boolean");
    return Napi::Value();
  }
  bool readOnly = info[2].As<Napi::Boolean>().Value();
  if (length == 0) {
    ThrowError(env, "EINVAL", "mapFd(): length is 0; map at least one byte");
    return Napi::Value();
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ThrowErrno(env, err, "mapFd(): fd " + std::to_string(fd) + " is not usable: " + ErrnoText(err));
    return Napi::Value();
  }
  // Touching mapped pages past the end of a file raises SIGBUS, which would kill the process
  // long after this call; refuse up front instead.
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) < length) {
    ThrowError(env, "ERR_MAP_PAST_EOF",
               "mapFd(): fd " + std::to_string(fd) + " is a file of " + FormatBytes(st.st_size) +
                   " but " + FormatBytes(length) + " were asked; map at most the file size");
    return Napi::Value();
  }
  void* base = MapSharedOrThrow(env, fd, length, readOnly, "fd " + std::to_string(fd));
  if (base == nullptr) return Napi::Value();
  return NewInstance(env, new MappedMemory(base, length), readOnly);
}

Napi::Value Mapping::DetachArrayBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer()) {
    ThrowTypeError(env, "detachArrayBuffer() takes an ArrayBuffer");
    return Napi::Value();
  }
  napi_status status = napi_detach_arraybuffer(env, info[0]);
  if (status != napi_ok) {
    if (!env.IsExceptionPending()) {
      ThrowError(env, "ERR_NOT_DETACHABLE", "detachArrayBuffer(): this ArrayBuffer cannot be detached");
    }
    return Napi::Value();
  }
  return env.Undefined();
}

Napi::Value Mapping::AddressOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* data = nullptr;
  if (info[0].IsArrayBuffer()) {
    data = info[0].As<Napi::ArrayBuffer>().Data();
  } else if (info[0].IsTypedArray() || info[0].IsDataView()) {
    napi_value arraybuffer;
    size_t byteOffset = 0;
    if (info[0].IsTypedArray()) {
      napi_get_typedarray_info(env, info[0], nullptr, nullptr, &data, &arraybuffer, &byteOffset);
    } else {
      napi_get_dataview_info(env, info[0], nullptr, &data, &arraybuffer, &byteOffset);
    }
  } else {
    ThrowTypeError(env, "addressOf() takes an ArrayBuffer or an ArrayBuffer view");
    return Napi::Value();
  }
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data)));
}

}  // namespace plasmapool
