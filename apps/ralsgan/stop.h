// SPDX-License-Identifier: Apache-2.0
// Stopping on SIGINT/SIGTERM/SIGHUP (docs/run_folder.md, "Signals"). The first signal
// only sets g_stop_signal; each long loop checks it at a safe point (between
// training steps, generated batches, decoded files) and stops there, keeping
// what is complete. A second signal ends the process at once, for a user who
// cannot wait for the current step.
#pragma once

#include <atomic>
#include <stdexcept>
#include <string>

namespace rg::app {

// The signal that asked us to stop (SIGINT, SIGTERM), or 0.
extern std::atomic<int> g_stop_signal;

// Installs the handlers above for SIGINT, SIGTERM and SIGHUP.
void install_stop_handlers();
// Back to the default action (the process ends at once): for work that keeps
// nothing half-made and has no safe points to check (eval, inspect).
void restore_default_stop_handlers();

inline bool stop_requested() {
  return g_stop_signal.load(std::memory_order_relaxed) != 0;
}
// 128 + the signal: the shell's code for a process ended by it (130, 143, 129).
int stop_exit_code();
// "SIGINT", "SIGTERM".
std::string stop_signal_name();

// Thrown where a stop ends a command that has more to do (demo); what() says
// what was kept. main() reports it and exits with stop_exit_code().
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace rg::app
