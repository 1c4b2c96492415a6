// SPDX-License-Identifier: Apache-2.0
// ralsgan: RaLSGAN training and deterministic generation on a compiled graph.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>
#include <string>

#include "apps/ralsgan/version.h"
#include "apps/data/dataset.h"
#include "apps/ralsgan/cli.h"
#include "apps/ralsgan/commands.h"
#include "apps/ralsgan/stop.h"

namespace {

const char* kUsage =
    "usage: ralsgan <command> [flags]\n\n"
    "commands:\n"
    "  preprocess  decode, clean and letterbox a folder of images into a dataset cache\n"
    "  train       train the RaLSGAN (DCGAN) on a folder or cache\n"
    "  generate    write PNG images from a trained generator, deterministically\n"
    "  export      write the compiled generator as a plan file for the C runtime (docs/embedded.md)\n"
    "  eval        image-quality metrics (SWD, FID, KID) of generated against real images\n"
    "  inspect     print the compiled training-step graph, fusion groups and memory plan\n"
    "  demo        train on Fashion-MNIST for a few minutes and write samples (no download)\n\n"
    "`ralsgan <command> --help` describes each command's flags.\n";

// A core build (RALSGAN_CORE_APP: no OpenCV, no metrics) has the first four.
#if RALSGAN_HAVE_METRICS && RALSGAN_HAVE_DECODE
const char* kCommands = "preprocess, train, generate, export, eval, inspect, demo";
#elif RALSGAN_HAVE_DECODE
const char* kCommands = "preprocess, train, generate, export, inspect";
#else
const char* kCommands = "train (from a dataset cache, --no-augment), generate, export, inspect";
#endif

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && !std::strcmp(argv[1], "--version")) {
    std::fputs(rg::app::version_text("ralsgan").c_str(), stdout);
    return 0;
  }
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  using Fn = int (*)(int, char**);
  Fn fn = nullptr;
  if (cmd == "train") fn = rg::app::cmd_train;
  else if (cmd == "generate") fn = rg::app::cmd_generate;
  else if (cmd == "export") fn = rg::app::cmd_export;
  else if (cmd == "inspect") fn = rg::app::cmd_inspect;
#if RALSGAN_HAVE_DECODE
  else if (cmd == "preprocess") fn = rg::app::cmd_preprocess;
#endif
#if RALSGAN_HAVE_METRICS && RALSGAN_HAVE_DECODE
  else if (cmd == "eval") fn = rg::app::cmd_eval;
  else if (cmd == "demo") fn = rg::app::cmd_demo;
#endif
  if (!fn) {
    std::fprintf(stderr, "ralsgan: unknown command '%s' (commands: %s)\n", cmd.c_str(), kCommands);
    return 2;
  }
  // SIGINT/SIGTERM: the commands that write stop at their next safe point
  // (stop.h); eval and inspect keep nothing half-made and end at once.
  if (cmd == "eval" || cmd == "inspect") rg::app::restore_default_stop_handlers();
  else rg::app::install_stop_handlers();
  // Past a file size limit (ulimit -f) a write fails with EFBIG and we say so,
  // instead of the process being killed with a core dump.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return fn(argc - 2, argv + 2);
  } catch (const rg::app::UsageError& e) {
    std::fprintf(stderr, "ralsgan %s\n", e.what());
    return 2;
  } catch (const rg::app::Interrupted& e) {
    std::fprintf(stderr, "ralsgan %s: interrupted by %s: %s\n", cmd.c_str(), rg::app::stop_signal_name().c_str(), e.what());
    return rg::app::stop_exit_code();
  } catch (const rg::data::Cancelled& e) {
    std::fprintf(stderr, "ralsgan %s: interrupted by %s: %s; nothing was written\n", cmd.c_str(),
                 rg::app::stop_signal_name().c_str(), e.what());
    return rg::app::stop_exit_code();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "ralsgan %s: error: out of memory (an allocation failed); try a smaller --batch or --size\n",
                 cmd.c_str());
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // Not the library's "filesystem error: cannot create directories: ..." but the path and the reason.
    std::string what = e.path1().empty() ? std::string("a file operation failed") : e.path1().string();
    if (!e.path2().empty()) what += " -> " + e.path2().string();
    std::fprintf(stderr, "ralsgan %s: error: %s: %s\n", cmd.c_str(), what.c_str(), e.code().message().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ralsgan %s: error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
