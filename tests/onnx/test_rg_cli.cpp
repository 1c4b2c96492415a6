// SPDX-License-Identifier: Apache-2.0
// The rg tool as a user runs it: rg run on one of ONNX's own node tests
// (inputs from .npy files, the output against the case's expected output),
// rg bench's JSON, rg inspect, and the exit codes (2 for usage errors and
// models the engine cannot run, 1 for bad files).
#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include <onnx/onnx_pb.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/io/npy.h"
#include "frontends/onnx/onnx_tensor.h"

namespace rg {
namespace {

namespace fs = std::filesystem;
const fs::path kCase = "/usr/share/libonnx-testdata/data/node/test_conv_with_strides_padding";

struct Result {
  int code;
  std::string out, err;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class RgCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rg_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  Result rg(const std::string& args) {
    const std::string cmd = std::string(RG_BIN) + " " + args + " > " + (dir_ / "out.txt").string() +
                            " 2> " + (dir_ / "err.txt").string() + " < /dev/null";
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128, read_text(dir_ / "out.txt"),
            read_text(dir_ / "err.txt")};
  }
  // input_N.pb of the case as DIR/NAME.npy.
  fs::path npy_of(const fs::path& pb, const std::string& name) {
    ::onnx::TensorProto t;
    std::ifstream in(pb, std::ios::binary);
    EXPECT_TRUE(t.ParseFromIstream(&in)) << pb;
    const onnx::Const c = onnx::decode_tensor(t, "");
    const fs::path p = dir_ / (name + ".npy");
    std::ofstream(p, std::ios::binary) << io::npy_bytes(c.shape, c.f);
    return p;
  }
  fs::path dir_;
};

TEST_F(RgCli, RunWritesTheOutputOfOnnxsOwnNodeTest) {
  const fs::path x = npy_of(kCase / "test_data_set_0" / "input_0.pb", "x");
  const fs::path w = npy_of(kCase / "test_data_set_0" / "input_1.pb", "W");
  for (const char* backend : {"ref", "cpu"}) {
    const fs::path out = dir_ / (std::string("out_") + backend);
    const Result r =
        rg("run " + (kCase / "model.onnx").string() + " --backend " + backend +
           " --input x=" + x.string() + " --input W=" + w.string() + " --out " + out.string());
    ASSERT_EQ(r.code, 0) << r.err;
    ::onnx::TensorProto t;
    std::ifstream in(kCase / "test_data_set_0" / "output_0.pb", std::ios::binary);
    ASSERT_TRUE(t.ParseFromIstream(&in));
    const onnx::Const want = onnx::decode_tensor(t, "");
    const io::NpyArray got = io::read_npy(out / "y.npy");
    EXPECT_EQ(got.shape, want.shape);
    ASSERT_EQ(got.data.size(), want.f.size());
    for (size_t i = 0; i < got.data.size(); ++i)
      EXPECT_NEAR(got.data[i], want.f[i], 1e-4 * (1 + std::abs(want.f[i])));
    // Again into the same folder: the existing output is not replaced without --overwrite.
    const Result again =
        rg("run " + (kCase / "model.onnx").string() + " --backend " + backend +
           " --input x=" + x.string() + " --input W=" + w.string() + " --out " + out.string());
    EXPECT_EQ(again.code, 2) << again.err;
    EXPECT_NE(again.err.find("--overwrite"), std::string::npos) << again.err;
  }
}

TEST_F(RgCli, BenchWritesJsonWithEveryBackendComparedWithRef) {
  const fs::path json = dir_ / "bench.json";
  const Result r = rg("bench " + (kCase / "model.onnx").string() +
                      " --backend ref,cpu --runs 3 --json " + json.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string text = read_text(json);
  const nlohmann::json j = nlohmann::json::parse(text);
  EXPECT_EQ(j["model"], (kCase / "model.onnx").string()) << text;
  EXPECT_EQ(j["batch"], 1) << text;
  EXPECT_TRUE(j["threads"].is_number_integer()) << text;
  EXPECT_GT(j["sgemm_gflops"].get<double>(), 0) << text;
  ASSERT_EQ(j["results"].size(), 2u) << text;
  for (size_t b = 0; b < 2; ++b) {
    const nlohmann::json& res = j["results"][b];
    EXPECT_EQ(res["backend"], b == 0 ? "ref" : "cpu") << text;
    EXPECT_EQ(res["runs"], 3) << text;
    EXPECT_LE(res["min_ms"].get<double>(), res["median_ms"].get<double>()) << text;
    EXPECT_LE(res["max_abs_diff_vs_ref"].get<double>(), 1e-4) << text;
    ASSERT_FALSE(res["groups"].empty()) << text;
    EXPECT_FALSE(res["groups"][0]["kernel"].get<std::string>().empty()) << text;
  }
  EXPECT_EQ(j["results"][0]["max_abs_diff_vs_ref"], 0.0) << text;  // ref against itself
  EXPECT_NE(r.out.find("cpu: median"), std::string::npos) << r.out;
}

TEST_F(RgCli, InspectPrintsKernelsAndFallbacks) {
  const Result r = rg("inspect " + (kCase / "model.onnx").string() + " --backend cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("input  x [1, 1, 7, 5]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("conv_fwd"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 of 1 kernels fall back to the host"), std::string::npos) << r.out;
}

TEST_F(RgCli, ExitCodesSayWhoseFaultItIs) {
  Result r = rg("run");
  EXPECT_EQ(r.code, 2) << r.err;
  r = rg("frobnicate model.onnx");
  EXPECT_EQ(r.code, 2) << r.err;
  r = rg("run " + (kCase / "model.onnx").string() + " --out " +
         (dir_ / "o").string());  // inputs missing
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--input"), std::string::npos) << r.err;
  const fs::path garbage = dir_ / "garbage.onnx";
  std::ofstream(garbage) << "this is not a model";
  r = rg("inspect " + garbage.string());
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find(garbage.string()), std::string::npos) << r.err;
  // A valid model with an op the engine does not run.
  ::onnx::ModelProto m;
  std::ifstream in(kCase / "model.onnx", std::ios::binary);
  ASSERT_TRUE(m.ParseFromIstream(&in));
  m.mutable_graph()->mutable_node(0)->set_op_type("ConvInteger");
  const fs::path unsupported = dir_ / "unsupported.onnx";
  std::ofstream(unsupported, std::ios::binary) << m.SerializeAsString();
  r = rg("inspect " + unsupported.string());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("ConvInteger"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace rg
