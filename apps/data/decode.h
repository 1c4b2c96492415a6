// SPDX-License-Identifier: Apache-2.0
// Image decoding (docs/contracts.md §6): JPEG, PNG, BMP, WebP, TIFF through OpenCV's
// imdecode and the first frame of a GIF through giflib. See docs/data.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "apps/data/image.h"

namespace rg::data {

// Formats recognised by their first bytes (magic numbers).
enum class ImageFormat { kUnknown, kJpeg, kPng, kGif, kBmp, kWebp, kTiff };

const char* format_name(ImageFormat f);
ImageFormat sniff_format(std::span<const uint8_t> bytes);
// The format an extension claims (".JPG" and ".jpeg" -> kJpeg), case-insensitive.
ImageFormat format_from_extension(std::string_view ext);

struct DecodeResult {
  bool ok = false;
  Image image;         // RGB, valid when ok
  std::string reason;  // why it was skipped (when !ok)
  std::string note;    // a warning kept with a decoded image (when ok), else empty
};

// Decodes file bytes. `name` is used for extension checks and messages only.
// Never throws for bad data: failures come back as !ok with a reason.
DecodeResult decode_image_bytes(std::span<const uint8_t> bytes, std::string_view name = {});

// Images whose header claims more pixels than this are skipped before any
// pixel buffer is allocated (decompression bombs). Default 2^27 (134M pixels,
// e.g. 16384 x 8192). Checked from the JPEG SOF, PNG IHDR, BMP and GIF
// headers; other formats rely on OpenCV's own limit (2^30).
void set_max_decode_pixels(uint64_t pixels);
uint64_t max_decode_pixels();

// Reads and decodes one file (missing, unreadable, directory, ... -> !ok).
// With `bytes`, the file's bytes are kept there (the detection cache keys on them).
DecodeResult decode_image_file(const std::filesystem::path& path,
                               std::vector<uint8_t>* bytes = nullptr);

// The first frame of a GIF composited onto its logical screen (black where
// transparent or not covered). Exposed for tests; decode_image_bytes calls it.
DecodeResult decode_gif_first_frame(std::span<const uint8_t> bytes);

}  // namespace rg::data
