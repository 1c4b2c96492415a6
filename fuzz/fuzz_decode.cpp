// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the decode path (format sniffing, OpenCV imdecode, giflib first
// frame, conversion to RGB) and both fits to 32 x 32.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "apps/data/decode.h"
#include "apps/data/letterbox.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Keep decompression bombs within the fuzzer's memory limit. (OpenCV reads
  // its variables when the library loads, so they only help when exported
  // before the run; our own header check applies at once.)
  rg::data::set_max_decode_pixels(uint64_t{1} << 22);
  setenv("OPENCV_IO_MAX_IMAGE_PIXELS", "4194304", 1);
  setenv("OPENCV_IO_MAX_IMAGE_WIDTH", "8192", 1);
  setenv("OPENCV_IO_MAX_IMAGE_HEIGHT", "8192", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The name's extension only changes notes; alternate it on the first byte.
  const char* names[] = {"f.jpg", "f.png", "f.gif", "f"};
  const char* name = names[size ? data[0] % 4 : 0];
  rg::data::DecodeResult r = rg::data::decode_image_bytes({data, size}, name);
  if (r.ok) {
    if (r.image.pixels.size() != r.image.bytes()) __builtin_trap();
    if (static_cast<uint64_t>(r.image.height) * r.image.width <= (uint64_t{1} << 22)) {
      rg::data::Image a = rg::data::fit_image(r.image, 32, rg::data::Fit::kPad);
      rg::data::Image b = rg::data::fit_image(r.image, 32, rg::data::Fit::kStretch);
      if (a.pixels.size() != 32 * 32 * 3 || b.pixels.size() != 32 * 32 * 3) __builtin_trap();
    }
  }
  return 0;
}
