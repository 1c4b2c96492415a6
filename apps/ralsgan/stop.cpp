// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/stop.h"

#include <csignal>
#include <cstring>

namespace rg::app {

std::atomic<int> g_stop_signal{0};

namespace {

void on_stop_signal(int sig) {
  // Only async-signal-safe calls here. A second signal: the user insists.
  if (g_stop_signal.exchange(sig) != 0) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

void set_handler(void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // reads and writes go on; the loops check the flag
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);  // a closed terminal: stop as cleanly as for the others
}

}  // namespace

void install_stop_handlers() {
  set_handler(on_stop_signal);
}
void restore_default_stop_handlers() {
  set_handler(SIG_DFL);
}

int stop_exit_code() {
  return 128 + g_stop_signal.load();
}

std::string stop_signal_name() {
  const int sig = g_stop_signal.load();
  return sig == SIGINT    ? "SIGINT"
         : sig == SIGTERM ? "SIGTERM"
         : sig == SIGHUP  ? "SIGHUP"
                          : "signal " + std::to_string(sig);
}

}  // namespace rg::app
