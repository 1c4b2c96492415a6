// SPDX-License-Identifier: Apache-2.0
// The subcommands of `ralsgan` (docs/contracts.md §1). Each returns the process exit
// code; usage errors are thrown as UsageError, failures as std::exception.
#pragma once

namespace rg::app {

int cmd_preprocess(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_export(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_inspect(int argc, char** argv);
int cmd_demo(int argc, char** argv);

}  // namespace rg::app
