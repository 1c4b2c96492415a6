// SPDX-License-Identifier: Apache-2.0
// Decode throughput: writes `count` JPEGs of mixed sizes into a temporary folder,
// then times decode + letterbox to 128 (build_dataset) on `threads` threads.
// Usage: rg_data_throughput [count=10000] [threads=2] [dir=/tmp/rg_data_throughput]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "apps/data/dataset.h"
#include "apps/data/parallel.h"
#include "engine/rng/philox.h"
#include "apps/rng_streams.h"

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 10000;
  const unsigned threads = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 2;
  const std::filesystem::path dir = argc > 3 ? argv[3] : "/tmp/rg_data_throughput";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // Sizes drawn from a few typical photo shapes, 160..1024 px on the long side.
  const int shapes[][2] = {{120, 160}, {240, 320}, {480, 640}, {640, 480}, {768, 1024}, {300, 300}, {1024, 576}};
  const auto g0 = std::chrono::steady_clock::now();
  rg::data::parallel_for(static_cast<std::size_t>(count), threads, [&](std::size_t i) {
    const auto w = rg::philox_words(12345, rg::streams::kGeneration, i, 0);
    const auto& s = shapes[w[0] % 7];
    cv::Mat img(s[0], s[1], CV_8UC3);
    for (int y = 0; y < img.rows; ++y)
      for (int x = 0; x < img.cols; ++x)
        img.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(x + w[1]), static_cast<uint8_t>(y + w[2]),
                                            static_cast<uint8_t>((x ^ y) + w[3]));
    cv::circle(img, {img.cols / 2, img.rows / 2}, img.rows / 3, cv::Scalar(w[1] & 255, 40, 200), -1);
    char name[32];
    std::snprintf(name, sizeof name, "img_%05zu.jpg", i);
    cv::imwrite((dir / name).string(), img, {cv::IMWRITE_JPEG_QUALITY, 90});
  });
  const double gen = std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
  std::printf("generated %d JPEGs in %.1f s\n", count, gen);
  rg::data::BuildOptions opt;
  opt.threads = threads;
  rg::data::BuildReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  rg::data::Dataset ds = rg::data::build_dataset(dir, 128, rg::data::Fit::kPad, &rep, opt);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("decode+letterbox to 128 on %u threads: %zu images in %.2f s = %.0f images/s (%zu skipped)\n", threads,
              ds.size(), secs, ds.size() / secs, rep.skipped.size());
  std::filesystem::remove_all(dir);
  return 0;
}
