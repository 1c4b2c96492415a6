// SPDX-License-Identifier: Apache-2.0
// Command-line flags of one subcommand: declared with their help, parsed
// strictly. Unknown flags, missing values and bad numbers are usage errors
// (docs/contracts.md §1: exit 2 with one clear line).
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace rg::app {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Flags {
 public:
  Flags(std::string command, std::string summary) : command_(std::move(command)), summary_(std::move(summary)) {}
  // A flag taking a value (default shown in --help; empty default = none).
  Flags& value(const std::string& name, const std::string& meta, const std::string& help, std::string def = {});
  // A flag that may be given several times (--input a=x.npy --input b=y.npy).
  Flags& repeated(const std::string& name, const std::string& meta, const std::string& help);
  // A boolean switch.
  Flags& toggle(const std::string& name, const std::string& help);
  Flags& required(const std::string& name);

  // Returns false when --help was asked for (help printed to stdout).
  bool parse(int argc, char** argv);

  bool has(const std::string& name) const;  // given on the command line
  bool on(const std::string& name) const { return has(name); }
  std::string str(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;  // every value of a repeated flag, in order
  int64_t integer(const std::string& name, int64_t lo, int64_t hi) const;
  uint64_t unsigned_integer(const std::string& name) const;
  double real(const std::string& name, double lo, double hi) const;
  std::string help() const;

 private:
  struct Spec {
    std::string meta, help, def;
    bool takes_value;
    bool repeats = false;
  };
  const Spec& spec(const std::string& name) const;
  std::string command_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> given_;
  std::map<std::string, std::vector<std::string>> repeats_;
  std::vector<std::string> required_;
};

}  // namespace rg::app
