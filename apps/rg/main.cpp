// SPDX-License-Identifier: Apache-2.0
// rg: run, benchmark, inspect and export ONNX models on the engine's backends
// (docs/onnx.md). Exit codes: 0 success; 2 a usage error or a model the
// engine cannot run (the message names the op); 1 a bad or unreadable file.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "apps/ralsgan/version.h"
#include "apps/ralsgan/cli.h"
#include "apps/rg/rg_commands.h"
#include "apps/rg/rg_model.h"
#include "rg/onnx.h"

namespace {

const char* kUsage =
    "usage: rg <command> MODEL.onnx [flags]\n\n"
    "commands:\n"
    "  inspect  inputs, outputs, ops, fusion groups with each kernel's implementation, fallbacks, "
    "memory plan\n"
    "  run      run once on inputs from .npy files; write each output as DIR/<name>.npy\n"
    "  bench    time each backend, each fusion group, and compare each backend's outputs with "
    "ref\n"
    "  export   compile for the C runtime: DIR/model.rgplan and DIR/model.h (docs/embedded.md)\n\n"
    "`rg <command> --help` describes each command's flags.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && !std::strcmp(argv[1], "--version")) {
    std::fputs(rg::app::version_text("rg").c_str(), stdout);
    return 0;
  }
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? rg::tool::kUsage : 0;
  }
  const std::string cmd = argv[1];
  int (*fn)(int, char**) = cmd == "inspect" ? rg::tool::cmd_inspect
                           : cmd == "run"   ? rg::tool::cmd_run
                           : cmd == "bench" ? rg::tool::cmd_bench
                           : cmd == "export" ? rg::tool::cmd_export
                                            : nullptr;
  if (!fn) {
    std::fprintf(stderr, "rg: unknown command '%s' (inspect, run, bench, export)\n", cmd.c_str());
    return rg::tool::kUsage;
  }
  try {
    return fn(argc, argv);
  } catch (const rg::app::UsageError& e) {
    const std::string what = e.what();  // the flag parser's name the command already ("rg run: ...")
    std::fprintf(stderr, "%s%s\n", what.rfind("rg ", 0) == 0 ? "" : ("rg " + cmd + ": ").c_str(), what.c_str());
    return rg::tool::kUsage;
  } catch (const rg::onnx::UnsupportedError& e) {
    std::fprintf(stderr, "rg %s: cannot run the model: %s\n", cmd.c_str(), e.what());
    return rg::tool::kUsage;
  } catch (const rg::onnx::FileError& e) {
    std::fprintf(stderr, "rg %s: %s\n", cmd.c_str(), e.what());
    return rg::tool::kBadFile;
  } catch (const std::invalid_argument&
               e) {  // the engine refusing the graph (no kernel for an op), a bad flag value
    std::fprintf(stderr, "rg %s: %s\n", cmd.c_str(), e.what());
    return rg::tool::kUsage;
  } catch (const std::exception& e) {  // files (.npy, output folder), devices
    std::fprintf(stderr, "rg %s: %s\n", cmd.c_str(), e.what());
    return rg::tool::kBadFile;
  }
}
