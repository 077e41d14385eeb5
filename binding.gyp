{
  "targets": [
    {
      "target_name": "plasmapool_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/errors.cc",
        "native/src/js_args.cc",
        "native/src/loop_callback.cc",
        "native/src/mapped_memory.cc",
        "native/src/map_shared.cc",
        "native/src/mapping.cc",
        "native/src/region_header.cc",
        "native/src/region_fs.cc",
        "native/src/region_open.cc",
        "native/src/region.cc",
        "native/src/allocator_core.cc",
        "native/src/allocator.cc",
        "native/src/frame_reader.cc",
        "native/src/write_queue.cc",
        "native/src/channel.cc",
        "native/src/channel_io.cc",
        "native/src/listener.cc",
        "native/src/sockets.cc",
        "native/src/fd_utils.cc",
        "native/src/object_index.cc",
        "native/src/region_index_writer.cc",
        "native/src/flat_builder.cc",
        "native/src/dataplane_codec.cc",
        "native/src/dataplane.cc",
        "native/src/dataplane_hooks.cc",
        "native/src/digest.cc",
        "native/src/object_view.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti"]
    }
  ]
}
