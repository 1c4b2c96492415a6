// SPDX-License-Identifier: Apache-2.0
// Images out (docs/contracts.md §5): quantisation of Tanh outputs to bytes, PNG encoding
// (libpng, fixed settings, so the same pixels always give the same bytes) and
// sample grids. Files are written with atomic_file.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rg::app {

// x in [-1, 1] -> clamp(floor((x + 1) * 127.5 + 0.5), 0, 255).
uint8_t quantize_pixel(float x);
// One image of a batch, NCHW float -> HWC RGB bytes.
void quantize_image(const float* nchw_image, int size, uint8_t* hwc_out);

std::vector<uint8_t> encode_png(const uint8_t* rgb, int width, int height);
// Images (size x size RGB) tiled `cols` per row with a 2-pixel gap.
std::vector<uint8_t> make_grid(const std::vector<std::vector<uint8_t>>& images, int size, int cols, int& width,
                               int& height);

// image_%05d.png, wider when the index needs it.
std::string image_file_name(uint64_t index);

}  // namespace rg::app
