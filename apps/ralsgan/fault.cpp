#include "apps/ralsgan/fault.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace rg::app {

namespace {

struct FaultConfig {
  bool active = false;
  std::string list_file;
  unsigned long kill_at = 0;
  unsigned long reached = 0;
};

FaultConfig& config() {
  static FaultConfig c = [] {
    FaultConfig f;
    const char* v = std::getenv("RG_FAULT_INJECT");
    if (!v || !*v) return f;
    const std::string s = v;
    char* end = nullptr;
    if (s.rfind("list:", 0) == 0 && s.size() > 5) {
      f.list_file = s.substr(5);
    } else if (s.rfind("kill:", 0) == 0 && (f.kill_at = std::strtoul(s.c_str() + 5, &end, 10)) > 0 && !*end) {
    } else {
      throw std::runtime_error("RG_FAULT_INJECT='" + s + "': expected list:FILE or kill:N (N >= 1)");
    }
    f.active = true;
    return f;
  }();
  return c;
}

}  // namespace

void fault_point(const std::string& what) {
  FaultConfig& c = config();
  if (!c.active) return;
  ++c.reached;
  if (!c.list_file.empty()) {
    if (std::FILE* f = std::fopen(c.list_file.c_str(), "a")) {
      std::fprintf(f, "%lu %s\n", c.reached, what.c_str());
      std::fclose(f);
    }
  } else if (c.reached == c.kill_at) {
    ::kill(::getpid(), SIGKILL);
  }
}

}  // namespace rg::app
