// SPDX-License-Identifier: Apache-2.0
#include "apps/ralsgan/cli.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rg::app {

Flags& Flags::value(const std::string& name, const std::string& meta, const std::string& help, std::string def) {
  order_.push_back(name);
  specs_[name] = {meta, help, std::move(def), true, false};
  return *this;
}

Flags& Flags::repeated(const std::string& name, const std::string& meta, const std::string& help) {
  order_.push_back(name);
  specs_[name] = {meta, help, "", true, true};
  return *this;
}

Flags& Flags::toggle(const std::string& name, const std::string& help) {
  order_.push_back(name);
  specs_[name] = {"", help, "", false, false};
  return *this;
}

Flags& Flags::required(const std::string& name) {
  required_.push_back(name);
  return *this;
}

const Flags::Spec& Flags::spec(const std::string& name) const {
  auto it = specs_.find(name);
  if (it == specs_.end()) throw std::logic_error("undeclared flag --" + name);
  return it->second;
}

bool Flags::parse(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    if (a.rfind("--", 0) != 0) throw UsageError(command_ + ": unexpected argument '" + a + "' (see --help)");
    std::string name = a.substr(2), val;
    const auto eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) val = name.substr(eq + 1), name = name.substr(0, eq);
    auto it = specs_.find(name);
    if (it == specs_.end()) throw UsageError(command_ + ": unknown flag --" + name + " (see --help)");
    if (given_.count(name) && !it->second.repeats) throw UsageError(command_ + ": --" + name + " given twice");
    if (it->second.takes_value) {
      if (!inline_value) {
        if (i + 1 >= argc) throw UsageError(command_ + ": --" + name + " needs a value (" + it->second.meta + ")");
        val = argv[++i];
      }
    } else if (inline_value) {
      throw UsageError(command_ + ": --" + name + " takes no value");
    }
    given_[name] = val;
    if (it->second.repeats) repeats_[name].push_back(val);
  }
  for (const std::string& r : required_)
    if (!given_.count(r)) throw UsageError(command_ + ": --" + r + " is required (see --help)");
  return true;
}

bool Flags::has(const std::string& name) const {
  spec(name);
  return given_.count(name) > 0;
}

std::string Flags::str(const std::string& name) const {
  const Spec& s = spec(name);
  auto it = given_.find(name);
  return it != given_.end() ? it->second : s.def;
}

std::vector<std::string> Flags::all(const std::string& name) const {
  spec(name);
  auto it = repeats_.find(name);
  return it != repeats_.end() ? it->second : std::vector<std::string>{};
}

int64_t Flags::integer(const std::string& name, int64_t lo, int64_t hi) const {
  const std::string v = str(name);
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE)
    throw UsageError(command_ + ": --" + name + " must be an integer, got '" + v + "'");
  if (x < lo || x > hi)
    throw UsageError(command_ + ": --" + name + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], got " + v);
  return x;
}

uint64_t Flags::unsigned_integer(const std::string& name) const {
  const std::string v = str(name);
  errno = 0;
  char* end = nullptr;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || *end != '\0' || errno == ERANGE)
    throw UsageError(command_ + ": --" + name + " must be a non-negative integer, got '" + v + "'");
  return x;
}

double Flags::real(const std::string& name, double lo, double hi) const {
  const std::string v = str(name);
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(x))
    throw UsageError(command_ + ": --" + name + " must be a number, got '" + v + "'");
  // strtod turns 1e-400 into 0 (or a denormal) with ERANGE: a value the user did not ask for.
  if (errno == ERANGE)
    throw UsageError(command_ + ": --" + name + " " + v + " is too small to be a double (it would be " +
                     (x == 0 ? std::string("0") : "rounded") + ")");
  if (x < lo || x > hi)
    throw UsageError(command_ + ": --" + name + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], got " + v);
  return x;
}

std::string Flags::help() const {
  // A command named with its program ("rg run") prints as it is; ralsgan's are bare.
  const std::string program = command_.rfind("rg ", 0) == 0 ? "" : "ralsgan ";
  std::string h = "usage: " + program + command_ + " [flags]\n\n" + summary_ + "\n\nflags:\n";
  for (const std::string& n : order_) {
    const Spec& s = specs_.at(n);
    std::string left = "  --" + n + (s.takes_value ? " " + s.meta : "");
    if (left.size() < 28) left.resize(28, ' ');
    else left += "\n" + std::string(28, ' ');
    h += left + s.help;
    if (!s.def.empty()) h += " (default " + s.def + ")";
    h += "\n";
  }
  h += "  --help                    this text\n";
  return h;
}

}  // namespace rg::app
