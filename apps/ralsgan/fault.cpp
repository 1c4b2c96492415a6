// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/fault.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace rg::app {

namespace {

struct FaultConfig {
  std::string list_file;
  unsigned long kill_at = 0;
  unsigned long reached = 0;
  bool no_exchange = false;
};

FaultConfig& config() {
  static FaultConfig c = [] {
    FaultConfig f;
    const char* v = std::getenv("RG_FAULT_INJECT");
    std::istringstream in(v ? v : "");
    for (std::string item; std::getline(in, item, ',');) {
      char* end = nullptr;
      if (item.rfind("list:", 0) == 0 && item.size() > 5) {
        f.list_file = item.substr(5);
      } else if (item.rfind("kill:", 0) == 0 &&
                 (f.kill_at = std::strtoul(item.c_str() + 5, &end, 10)) > 0 && !*end) {
      } else if (item == "no-exchange") {
        f.no_exchange = true;
      } else {
        throw std::runtime_error("RG_FAULT_INJECT: '" + item +
                                 "': expected list:FILE, kill:N (N >= 1) or no-exchange");
      }
    }
    return f;
  }();
  return c;
}

}  // namespace

void fault_point(const std::string& what) {
  FaultConfig& c = config();
  if (c.list_file.empty() && !c.kill_at) return;
  ++c.reached;
  if (!c.list_file.empty()) {
    if (std::FILE* f = std::fopen(c.list_file.c_str(), "a")) {
      std::fprintf(f, "%lu %s\n", c.reached, what.c_str());
      std::fclose(f);
    }
  }
  if (c.reached == c.kill_at) ::kill(::getpid(), SIGKILL);
}

bool fault_no_exchange() {
  return config().no_exchange;
}

}  // namespace rg::app
