// SPDX-License-Identifier: Apache-2.0
// The rg tool's commands; each returns the process's exit code or throws
// (apps/rg/main.cpp maps exceptions to exit codes).
#pragma once

namespace rg::tool {

int cmd_inspect(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_export(int argc, char** argv);

}  // namespace rg::tool
