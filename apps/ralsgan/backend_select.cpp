#include "apps/ralsgan/backend_select.h"

#include <stdexcept>

#include "backends/ref/ref_backend.h"

namespace rg::app {

std::vector<std::string> available_backends() {
  std::vector<std::string> r;
  r.push_back("ref");
  return r;
}

SelectedBackend make_backend(const BackendRequest& req) {
  const std::string& n = req.name;
  if (n != "auto" && n != "cuda" && n != "cpu" && n != "ref")
    throw std::invalid_argument("--backend must be auto, cuda, cpu or ref, got '" + n + "'");
  if (n == "cuda") throw std::runtime_error("--backend cuda: this build has no CUDA backend");
  if (n == "cpu") throw std::runtime_error("--backend cpu: this build has no oneDNN backend");
  return {make_ref_backend(), "ref"};
}

}  // namespace rg::app
