// The channel's side of the data plane hook (issue 10): attaching a DataPlane and writing the
// replies it builds. Kept apart from channel.cc/channel_io.cc so that the hook stays small there.
#include <cstring>

#include "channel.h"
#include "dataplane.h"

namespace plasmapool {

void Channel::AttachDataPlane(DataPlane* dataPlane, Napi::Value owner, uint32_t client) {
  dataPlane_ = dataPlane;
  dataPlaneClient_ = client;
  dataPlaneRef_ = Napi::Persistent(owner.As<Napi::Object>());
}

void Channel::WriteReply(int64_t type, const uint8_t* body, size_t length) {
  if (closing_ || ending_ || mode_ != FramingMode::kPlasma) return;
  uint8_t header[24];
  int64_t fields[3] = {0, type, static_cast<int64_t>(length)};  // §1.2: version, type, length
  memcpy(header, fields, sizeof(header));
  int err = 0;
  AfterWrite(writer_.WriteFrame(fd_, header, sizeof(header), body, length, &err), err);
}

}  // namespace plasmapool
