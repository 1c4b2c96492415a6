// SPDX-License-Identifier: Apache-2.0
// Detector class names: the 80 COCO classes built in (the order of every
// COCO-trained YOLO), or a names file with one name per line (Darknet's
// coco.names format), and the --keep list resolved against them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rg::data {

const std::vector<std::string>& coco_class_names();

// One name per line; blank lines end nothing and are refused, '\r' is dropped.
// Throws std::runtime_error naming the file.
std::vector<std::string> read_class_names(const std::filesystem::path& file);

// "motorcycle,person" or "3,0" (names or indices) -> a per-class keep mask.
// An empty spec keeps every class. Throws std::invalid_argument naming the
// unknown class.
std::vector<bool> parse_keep_classes(const std::string& spec,
                                     const std::vector<std::string>& names);

}  // namespace rg::data
