// SPDX-License-Identifier: Apache-2.0
// The review page (`preprocess --review DIR`): one static HTML file and a
// thumbnail per image, opened from file:// with no server and no network.
// It shows every kept and skipped image with its boxes and reason, filters
// them, and lets a person mark images and save the marks as an exclude list
// for `preprocess --exclude` (docs/data.md, "Reviewing by eye").
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "apps/data/dataset.h"

namespace rg::data {

// The page's files by relative path: "index.html" and "thumbs/<n>.jpg".
// `excluded` are shown marked already, so that saving keeps them listed.
std::map<std::string, std::vector<uint8_t>> review_page_files(
    const BuildReport& report, const std::string& cache_file,
    const std::set<std::string>& excluded);

}  // namespace rg::data
