{
  "targets": [
    {
      "target_name": "plasmapool_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/region.cc",
        "native/src/allocator.cc",
        "native/src/channel.cc",
        "native/src/mapping.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti"]
    }
  ]
}
