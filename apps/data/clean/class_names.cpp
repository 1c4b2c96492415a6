// SPDX-License-Identifier: Apache-2.0
// The COCO class names and the names-file reader (class_names.h).
#include "apps/data/clean/class_names.h"

#include <fstream>
#include <stdexcept>

namespace rg::data {

const std::vector<std::string>& coco_class_names() {
  static const std::vector<std::string> names = {"person",        "bicycle",      "car",
                                                 "motorcycle",    "airplane",     "bus",
                                                 "train",         "truck",        "boat",
                                                 "traffic light", "fire hydrant", "stop sign",
                                                 "parking meter", "bench",        "bird",
                                                 "cat",           "dog",          "horse",
                                                 "sheep",         "cow",          "elephant",
                                                 "bear",          "zebra",        "giraffe",
                                                 "backpack",      "umbrella",     "handbag",
                                                 "tie",           "suitcase",     "frisbee",
                                                 "skis",          "snowboard",    "sports ball",
                                                 "kite",          "baseball bat", "baseball glove",
                                                 "skateboard",    "surfboard",    "tennis racket",
                                                 "bottle",        "wine glass",   "cup",
                                                 "fork",          "knife",        "spoon",
                                                 "bowl",          "banana",       "apple",
                                                 "sandwich",      "orange",       "broccoli",
                                                 "carrot",        "hot dog",      "pizza",
                                                 "donut",         "cake",         "chair",
                                                 "couch",         "potted plant", "bed",
                                                 "dining table",  "toilet",       "tv",
                                                 "laptop",        "mouse",        "remote",
                                                 "keyboard",      "cell phone",   "microwave",
                                                 "oven",          "toaster",      "sink",
                                                 "refrigerator",  "book",         "clock",
                                                 "vase",          "scissors",     "teddy bear",
                                                 "hair drier",    "toothbrush"};
  return names;
}

std::vector<std::string> read_class_names(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file.string() + ": cannot read the class names file");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;  // a trailing blank line is common
    if (names.size() == 100000)
      throw std::runtime_error(file.string() + ": more than 100000 class names");
    names.push_back(line);
  }
  if (names.empty()) throw std::runtime_error(file.string() + ": no class names (one per line)");
  return names;
}

std::vector<bool> parse_keep_classes(const std::string& spec,
                                     const std::vector<std::string>& names) {
  if (spec.empty()) return std::vector<bool>(names.size(), true);
  std::vector<bool> keep(names.size(), false);
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string::npos) end = spec.size();
    const std::string item = spec.substr(start, end - start);
    start = end + 1;
    if (item.empty()) throw std::invalid_argument("--keep: an empty class name in '" + spec + "'");
    bool found = false;
    for (size_t c = 0; c < names.size(); ++c)
      if (names[c] == item) keep[c] = found = true;
    if (!found && item.find_first_not_of("0123456789") == std::string::npos && item.size() < 7) {
      const size_t c = std::stoul(item);
      if (c < names.size()) keep[c] = found = true;
    }
    if (!found)
      throw std::invalid_argument("--keep: '" + item + "' is not one of the detector's " +
                                  std::to_string(names.size()) + " classes");
  }
  return keep;
}

}  // namespace rg::data
