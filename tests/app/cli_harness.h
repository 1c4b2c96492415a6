// Runs the ralsgan executable as a user would and captures its exit code and
// stderr; temporary folders per test.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "apps/ralsgan/image_io.h"

namespace rg::testing_cli {

namespace fs = std::filesystem;

struct RunResult {
  int code;
  std::string err;
};

inline RunResult ralsgan(const std::string& args, const fs::path& dir) {
  const fs::path err_file = dir / "stderr.txt";
  const std::string cmd = std::string(RALSGAN_BIN) + " " + args + " > " + (dir / "stdout.txt").string() + " 2> " +
                          err_file.string() + " < /dev/null";
  const int status = std::system(cmd.c_str());
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), ss.str()};
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("ralsgan-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

inline std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A folder of `n` smooth random RGB PNGs of `size` px, named img_000.png ...
inline void make_image_folder(const fs::path& dir, int n, int size, uint32_t seed) {
  fs::create_directories(dir);
  std::mt19937 rng(seed);
  for (int i = 0; i < n; ++i) {
    std::vector<uint8_t> rgb(size_t(size) * size * 3);
    const double fx = 0.05 + 0.3 * (rng() % 100) / 100.0, fy = 0.05 + 0.3 * (rng() % 100) / 100.0;
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x)
        for (int c = 0; c < 3; ++c)
          rgb[(size_t(y) * size + x) * 3 + c] = uint8_t(127.5 + 120 * std::sin(fx * x * (c + 1) + fy * y + i));
    char name[32];
    std::snprintf(name, sizeof name, "img_%03d.png", i);
    app::write_file_atomic(dir / name, app::encode_png(rgb.data(), size, size));
  }
}

}  // namespace rg::testing_cli
