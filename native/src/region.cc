#include "region.h"

#include <sys/mman.h>
#include <unistd.h>

#include "addon_data.h"
#include "errors.h"
#include "js_args.h"
#include "mapped_memory.h"
#include "mapping.h"
#include "region_open.h"

namespace plasmapool {

namespace {

// Optional boolean option: absent/undefined → fallback.
bool OptionalBool(Napi::Env env, const Napi::Object& options, const char* name, bool fallback, bool* out) {
  Napi::Value value = options.Get(name);
  if (value.IsUndefined()) {
    *out = fallback;
    return true;
  }
  if (!value.IsBoolean()) {
    ThrowTypeError(env, std::string("options.") + name + " must be a boolean");
    return false;
  }
  *out = value.As<Napi::Boolean>().Value();
  return true;
}

}  // namespace

Napi::Function Region::Init(Napi::Env env) {
  return DefineClass(env, "NativeRegion",
                     {
                         InstanceMethod<&Region::Close>("close"),
                         InstanceAccessor<&Region::GetPath>("path"),
                         InstanceAccessor<&Region::GetFd>("fd"),
                         InstanceAccessor<&Region::GetUuid>("uuid"),
                         InstanceAccessor<&Region::GetNodeName>("nodeName"),
                         InstanceAccessor<&Region::GetLayoutVersion>("layoutVersion"),
                         InstanceAccessor<&Region::GetDataOffset>("dataOffset"),
                         InstanceAccessor<&Region::GetIndexSlots>("indexSlots"),
                         InstanceAccessor<&Region::GetIndexOffset>("indexOffset"),
                         InstanceAccessor<&Region::GetCapacity>("capacity"),
                         InstanceAccessor<&Region::GetMapLength>("mapLength"),
                         InstanceAccessor<&Region::GetCreatedAt>("createdAt"),
                         InstanceAccessor<&Region::GetReadOnly>("readOnly"),
                         InstanceAccessor<&Region::GetKind>("kind"),
                         InstanceAccessor<&Region::GetMapping>("mapping"),
                         InstanceAccessor<&Region::GetClosed>("closed"),
                     });
}

Region::Region(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Region>(info) {
  if (info.Length() < 1 || !IsConstructToken(info[0])) {
    ThrowTypeError(info.Env(), "NativeRegion cannot be constructed directly: use createRegion() or attachRegion()");
  }
}

Region::~Region() {
  // Deliberately no close(fd_): see region.h. A region collected while open leaks its fd; the
  // owner must call close().
}

Napi::Value Region::Wrap(Napi::Env env, const std::string& path, RegionState* state) {
  auto* memory = new MappedMemory(state->base, state->header.map_length);
  Napi::Object mapping = Mapping::NewInstance(env, memory, state->readOnly);
  if (env.IsExceptionPending()) {
    close(state->fd);
    if (state->lockFd >= 0) close(state->lockFd);
    return Napi::Value();
  }
  Napi::Object obj = GetAddonData(env)->regionCtor.New({ConstructToken(env)});
  if (obj.IsEmpty() || env.IsExceptionPending()) {
    Mapping::Unwrap(mapping)->CloseOwner();
    close(state->fd);
    if (state->lockFd >= 0) close(state->lockFd);
    return Napi::Value();
  }
  Region* self = Region::Unwrap(obj);
  self->path_ = path;
  self->fd_ = state->fd;
  self->lockFd_ = state->lockFd;
  self->readOnly_ = state->readOnly;
  self->kind_ = state->kind;
  self->header_ = state->header;
  self->mapping_ = Napi::Persistent(mapping);
  return obj;
}

Napi::Value Region::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) {
    ThrowTypeError(env, "createRegion(options): options must be an object");
    return Napi::Value();
  }
  Napi::Object options = info[0].As<Napi::Object>();
  RegionCreateParams params;
  if (!ToString(env, options.Get("path"), "options.path", &params.path) ||
      !ToSize(env, options.Get("capacity"), "options.capacity", &params.capacity) ||
      !ToString(env, options.Get("nodeName"), "options.nodeName", &params.nodeName) ||
      !OptionalBool(env, options, "hugepages", false, &params.hugepages) ||
      !OptionalBool(env, options, "prefault", true, &params.prefault) ||
      !OptionalBool(env, options, "overwrite", false, &params.overwrite)) {
    return Napi::Value();
  }
  Napi::Value slots = options.Get("indexSlots");
  if (!slots.IsUndefined()) {
    if (!ToSize(env, slots, "options.indexSlots", &params.indexSlots)) return Napi::Value();
    if (params.indexSlots > UINT32_MAX) {
      ThrowRangeError(env, "options.indexSlots must be at most 4294967295");
      return Napi::Value();
    }
  }
  if (params.nodeName.size() >= kNodeNameBytes) {
    ThrowRangeError(env, "options.nodeName is " + std::to_string(params.nodeName.size()) +
                             " bytes of UTF-8; the region header holds at most " +
                             std::to_string(kNodeNameBytes - 1));
    return Napi::Value();
  }
  if (params.nodeName.find('\0') != std::string::npos) {
    ThrowRangeError(env, "options.nodeName must not contain NUL");
    return Napi::Value();
  }
  Napi::Value mode = options.Get("mode");
  if (!mode.IsUndefined()) {
    uint64_t m = 0;
    if (!ToSize(env, mode, "options.mode", &m)) return Napi::Value();
    if (m > 07777) {
      ThrowRangeError(env, "options.mode must be a file mode such as 0o600");
      return Napi::Value();
    }
    params.mode = static_cast<uint32_t>(m);
  }
  RegionState state;
  RegionFailure failure;
  if (!CreateRegion(params, &state, &failure)) {
    ThrowError(env, failure.code, failure.message);
    return Napi::Value();
  }
  return Wrap(env, params.path, &state);
}

Napi::Value Region::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RegionAttachParams params;
  if (!ToString(env, info[0], "path", &params.path)) return Napi::Value();
  if (!info[1].IsUndefined()) {
    if (!info[1].IsObject()) {
      ThrowTypeError(env, "attachRegion(path, options): options must be an object");
      return Napi::Value();
    }
    Napi::Object options = info[1].As<Napi::Object>();
    if (!OptionalBool(env, options, "readOnly", false, &params.readOnly) ||
        !OptionalBool(env, options, "owner", false, &params.owner)) {
      return Napi::Value();
    }
    if (params.owner) params.readOnly = false;
    Napi::Value expect = options.Get("expectUuid");
    if (!expect.IsUndefined()) {
      std::string text;
      if (!ToString(env, expect, "options.expectUuid", &text)) return Napi::Value();
      if (!ParseUuid(text, params.expectUuid)) {
        ThrowTypeError(env, "options.expectUuid must be a uuid such as 0f8fad5b-d9cb-469f-a165-70867728950e, got \"" +
                                text + "\"");
        return Napi::Value();
      }
      params.checkUuid = true;
    }
  }
  RegionState state;
  RegionFailure failure;
  if (!AttachRegion(params, &state, &failure)) {
    ThrowError(env, failure.code, failure.message);
    return Napi::Value();
  }
  return Wrap(env, params.path, &state);
}

Napi::Value Region::Close(const Napi::CallbackInfo& info) {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  if (lockFd_ >= 0) {
    close(lockFd_);
    lockFd_ = -1;
  }
  if (!mapping_.IsEmpty()) {
    Mapping::Unwrap(mapping_.Value())->CloseOwner();
  }
  return info.Env().Undefined();
}

Napi::Value Region::GetPath(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), path_); }
Napi::Value Region::GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
Napi::Value Region::GetUuid(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), FormatUuid(header_.uuid));
}
Napi::Value Region::GetNodeName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), HeaderNodeName(header_));
}
Napi::Value Region::GetLayoutVersion(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), header_.layout_version);
}
Napi::Value Region::GetDataOffset(const Napi::CallbackInfo& info) { return SizeValue(info.Env(), header_.data_offset); }
Napi::Value Region::GetIndexSlots(const Napi::CallbackInfo& info) {
  return SizeValue(info.Env(), header_.layout_version == kRegionLayoutVersion ? header_.index_slots : 0);
}
Napi::Value Region::GetIndexOffset(const Napi::CallbackInfo& info) { return SizeValue(info.Env(), header_.index_offset); }
Napi::Value Region::GetCapacity(const Napi::CallbackInfo& info) { return SizeValue(info.Env(), header_.capacity); }
Napi::Value Region::GetMapLength(const Napi::CallbackInfo& info) { return SizeValue(info.Env(), header_.map_length); }
Napi::Value Region::GetCreatedAt(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(header_.created_at_ns / 1000000));
}
Napi::Value Region::GetReadOnly(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), readOnly_); }
Napi::Value Region::GetKind(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), RegionKindName(kind_));
}
Napi::Value Region::GetMapping(const Napi::CallbackInfo& info) {
  if (mapping_.IsEmpty()) return info.Env().Undefined();
  return mapping_.Value();
}
Napi::Value Region::GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }

}  // namespace plasmapool
