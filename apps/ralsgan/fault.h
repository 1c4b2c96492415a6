// SPDX-License-Identifier: Apache-2.0
// A test hook for the crash tests (tests/app/test_crash.cpp). The environment
// variable RG_FAULT_INJECT lets a test end the process at any step of writing
// and publishing a checkpoint, to check what `train --resume` makes of what is
// left. Unset (every user's case) a point costs one branch. Comma-separated:
//   list:FILE    append "N WHAT" to FILE for every point reached
//   kill:N       SIGKILL at the N-th point (counted from 1)
//   no-exchange  publish checkpoints as on a file system without
//                renameat2(RENAME_EXCHANGE) (checkpoint_unit.h's fallback)
#pragma once

#include <string>

namespace rg::app {

void fault_point(const std::string& what);
bool fault_no_exchange();

}  // namespace rg::app
