// SPDX-License-Identifier: Apache-2.0
// Runs the ralsgan executable as a user would and captures its exit code and
// stderr; temporary folders per test.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/io/atomic_file.h"
#include "apps/ralsgan/image_io.h"

namespace rg::testing_cli {

namespace fs = std::filesystem;

struct RunResult {
  int code;  // the exit status, or 128 + the signal that ended the process (as a shell reports it)
  std::string err;
};

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The shell command that runs `ralsgan args` in `dir`'s world: its data-set
// cache under dir/xdg-cache (tests do not share one, nor the user's), stdout
// and stderr into dir/stdout.txt and dir/stderr.txt. `wrap` goes before the
// program: more environment ("RG_FAULT_INJECT=kill:3"), or a program that
// runs it ("prlimit --fsize=1000", "strace ...").
inline std::string command_line(const std::string& args, const fs::path& dir,
                                const std::string& wrap) {
  return "exec env XDG_CACHE_HOME=" + (dir / "xdg-cache").string() + " " + wrap + " " +
         std::string(RALSGAN_BIN) + " " + args + " > " + (dir / "stdout.txt").string() + " 2> " +
         (dir / "stderr.txt").string() + " < /dev/null";
}

inline int shell_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline RunResult ralsgan(const std::string& args, const fs::path& dir,
                         const std::string& wrap = "") {
  const int status = std::system(command_line(args, dir, wrap).c_str());
  return {shell_code(status), read_text(dir / "stderr.txt")};
}

// Like ralsgan(), but stderr reaches dir/stderr.txt through a pipe and stdout
// is dropped: for runs under a file size limit (prlimit --fsize), which would
// otherwise also cut the very message that says what failed.
inline RunResult ralsgan_piped(const std::string& args, const fs::path& dir,
                               const std::string& wrap) {
  const fs::path code = dir / "code.txt";
  const std::string cmd = "{ env XDG_CACHE_HOME=" + (dir / "xdg-cache").string() + " " + wrap +
                          " " + std::string(RALSGAN_BIN) + " " + args +
                          " 2>&1 >/dev/null </dev/null; echo $? > " + code.string() +
                          "; } | cat > " + (dir / "stderr.txt").string();
  if (std::system(cmd.c_str()) != 0) return {-1, "the shell pipeline failed"};
  return {std::stoi(read_text(code)), read_text(dir / "stderr.txt")};
}

// Starts `ralsgan args` and returns at once: the process id is ralsgan's own
// (sh and env exec it), so signals sent to it reach ralsgan.
inline pid_t spawn(const std::string& args, const fs::path& dir, const std::string& wrap = "") {
  const std::string cmd = command_line(args, dir, wrap);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Waits at most `seconds` for a spawned process. Returns its shell_code, or
// -1 when it had not ended (it is then killed).
inline int wait_for(pid_t pid, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return shell_code(status);
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Polls `ready` every 10 ms for at most `seconds`; returns whether it became true.
template <class F>
bool wait_until(F ready, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!ready()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("ralsgan-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
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
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
}

inline void write_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// Lines of a text file.
inline std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every path under `dir` whose name holds one of our temporary marks.
inline std::vector<std::string> temporaries_under(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find(".rgtmp-") != std::string::npos || name.find(".old-") != std::string::npos)
      found.push_back(it->path().string());
  }
  return found;
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
          rgb[(size_t(y) * size + x) * 3 + c] =
              uint8_t(127.5 + 120 * std::sin(fx * x * (c + 1) + fy * y + i));
    char name[32];
    std::snprintf(name, sizeof name, "img_%03d.png", i);
    io::write_file_atomic(dir / name, app::encode_png(rgb.data(), size, size));
  }
}

}  // namespace rg::testing_cli
