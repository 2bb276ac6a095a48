// The oneDNN-backed CPU ops (conv, pooling, gemm/matmul, norms): window geometry against the
// ONNX spec formulas worked by hand, dynamic shapes against a plain loop written here, and the
// errors bad models and inputs must produce instead of crashes.
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "backends/cpu/conv_attributes.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

using cpu::AutoPad;
using cpu::ResolveTransposeWindow;
using cpu::ResolveWindow;
using cpu::Window;
using cpu::WindowAttrs;
using testing::OneNodeModel;

TEST_CASE("Pooling window drops a ceil_mode window that starts in the end padding", "[nn]") {
  WindowAttrs attrs;
  attrs.kernel = {2};
  attrs.strides = {2};
  attrs.pads = {0, 1};
  attrs.ceil_mode = true;
  // ceil((4 + 0 + 1 - 2) / 2) + 1 = 3, but the third window would start at 4 = in + pad_begin.
  Result<Window> w = ResolveWindow(attrs, std::vector<int64_t>{4}, {});
  REQUIRE(w.ok());
  CHECK(w->output == std::vector<int64_t>{2});
  attrs.ceil_mode = false;
  w = ResolveWindow(attrs, std::vector<int64_t>{5}, {});
  REQUIRE(w.ok());
  CHECK(w->output == std::vector<int64_t>{3});  // floor((5 + 1 - 2) / 2) + 1
}

TEST_CASE("SAME_UPPER and SAME_LOWER put the odd padding on opposite ends", "[nn]") {
  WindowAttrs attrs;
  attrs.kernel = {4};
  attrs.strides = {2};
  // out = ceil(7 / 2) = 4; total pad = (4 - 1) * 2 + 4 - 7 = 3.
  attrs.auto_pad = AutoPad::kSameUpper;
  Result<Window> up = ResolveWindow(attrs, std::vector<int64_t>{7}, {});
  REQUIRE(up.ok());
  CHECK(up->output == std::vector<int64_t>{4});
  CHECK(up->pad_begin == std::vector<int64_t>{1});
  CHECK(up->pad_end == std::vector<int64_t>{2});
  attrs.auto_pad = AutoPad::kSameLower;
  Result<Window> low = ResolveWindow(attrs, std::vector<int64_t>{7}, {});
  REQUIRE(low.ok());
  CHECK(low->pad_begin == std::vector<int64_t>{2});
  CHECK(low->pad_end == std::vector<int64_t>{1});
}

TEST_CASE("Unknown spatial sizes give unknown output sizes", "[nn]") {
  WindowAttrs attrs;
  attrs.pads = {1, 1, 1, 1};
  Result<Window> w = ResolveWindow(attrs, std::vector<int64_t>{-1, 6}, std::vector<int64_t>{3, 3});
  REQUIRE(w.ok());
  CHECK(w->output == std::vector<int64_t>{-1, 6});
}

TEST_CASE("Window attributes are checked against the spatial rank", "[nn]") {
  WindowAttrs attrs;
  attrs.kernel = {3, 3, 3};
  Result<Window> w = ResolveWindow(attrs, std::vector<int64_t>{8, 8}, {});
  REQUIRE(!w.ok());
  CHECK(w.status().code() == StatusCode::kInvalidModel);
  CHECK_THAT(w.status().message(), Catch::Contains("kernel_shape"));
  attrs.kernel = {5, 5};
  w = ResolveWindow(attrs, std::vector<int64_t>{3, 8}, {});
  REQUIRE(!w.ok());
  CHECK_THAT(w.status().message(), Catch::Contains("smaller than the dilated kernel"));
}

TEST_CASE("ConvTranspose output size follows output_padding and output_shape", "[nn]") {
  WindowAttrs attrs;
  attrs.strides = {2};
  core::Attributes node;
  node.Set("output_padding", std::vector<int64_t>{1});
  // 2 * (3 - 1) + 1 + 3 = 8
  Result<Window> w =
      ResolveTransposeWindow(attrs, node, std::vector<int64_t>{3}, std::vector<int64_t>{3});
  REQUIRE(w.ok());
  CHECK(w->output == std::vector<int64_t>{8});
  attrs.pads = {1, 1};
  w = ResolveTransposeWindow(attrs, node, std::vector<int64_t>{3}, std::vector<int64_t>{3});
  REQUIRE(w.ok());
  CHECK(w->output == std::vector<int64_t>{6});
  core::Attributes shaped;
  shaped.Set("output_shape", std::vector<int64_t>{6});
  attrs.pads = {};
  attrs.auto_pad = AutoPad::kSameUpper;
  // total padding 2 * 2 + 3 - 6 = 1: SAME_UPPER puts it at the end.
  w = ResolveTransposeWindow(attrs, shaped, std::vector<int64_t>{3}, std::vector<int64_t>{3});
  REQUIRE(w.ok());
  CHECK(w->output == std::vector<int64_t>{6});
  CHECK(w->pad_begin == std::vector<int64_t>{0});
  CHECK(w->pad_end == std::vector<int64_t>{1});
}

// ---- Session-level checks on one-node models ------------------------------------------------

std::vector<float> Ramp(int64_t n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = std::sin(static_cast<float>(i) * scale);
  return v;
}

// Direct 2-D convolution, one group, stride 2, pads 1: the definition, written out.
std::vector<float> ConvReference(const std::vector<float>& x, int64_t c, int64_t h, int64_t w,
                                 const std::vector<float>& k, int64_t m, int64_t kh, int64_t kw,
                                 int64_t oh, int64_t ow) {
  std::vector<float> y(static_cast<size_t>(m * oh * ow), 0.0f);
  for (int64_t o = 0; o < m; ++o) {
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        double acc = 0.0;
        for (int64_t ci = 0; ci < c; ++ci) {
          for (int64_t a = 0; a < kh; ++a) {
            for (int64_t b = 0; b < kw; ++b) {
              const int64_t yy = i * 2 - 1 + a, xx = j * 2 - 1 + b;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              acc += x[(ci * h + yy) * w + xx] * k[((o * c + ci) * kh + a) * kw + b];
            }
          }
        }
        y[(o * oh + i) * ow + j] = static_cast<float>(acc);
      }
    }
  }
  return y;
}

TEST_CASE("Conv with constant weights follows changing input shapes", "[nn]") {
  OneNodeModel m("Conv", 13);
  m.Input("x", onnx::TensorProto::FLOAT, {1, 3, -1, -1});
  const std::vector<float> k = Ramp(4 * 3 * 3 * 3, 0.37f);
  m.Constant("w", {4, 3, 3, 3}, k);
  m.Output("y");
  m.Ints("strides", {2, 2});
  m.Ints("pads", {1, 1, 1, 1});
  Result<Model> model = m.Load();
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  Result<Session> session = Session::Create(*model);
  REQUIRE(session.ok());
  for (auto [h, w] : {std::pair<int64_t, int64_t>{7, 9}, {4, 4}, {7, 9}}) {
    std::vector<float> x = Ramp(3 * h * w, 0.11f);
    std::vector<NamedTensor> in = {{"x", Tensor::View(DType::kFloat32, {1, 3, h, w}, x.data())}};
    Result<std::vector<NamedTensor>> out = session->Run(in);
    INFO(out.status().ToString());
    REQUIRE(out.ok());
    const int64_t oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
    const Tensor& y = (*out)[0].tensor;
    REQUIRE(y.shape() == Shape{1, 4, oh, ow});
    std::vector<float> want = ConvReference(x, 3, h, w, k, 4, 3, 3, oh, ow);
    for (size_t i = 0; i < want.size(); ++i) {
      REQUIRE(y.data_as<float>()[i] == Approx(want[i]).margin(1e-4));
    }
  }
}

TEST_CASE("Conv refuses a group that does not divide the channels at load time", "[nn]") {
  OneNodeModel m("Conv", 13);
  m.Input("x", onnx::TensorProto::FLOAT, {1, 4, 5, 5});
  m.Input("w", onnx::TensorProto::FLOAT, {6, 2, 3, 3});
  m.Output("y");
  m.Int("group", 3);
  Result<Model> model = m.Load();
  REQUIRE(!model.ok());
  CHECK(model.status().code() == StatusCode::kInvalidModel);
  CHECK_THAT(model.status().message(), Catch::Contains("group"));
}

TEST_CASE("MaxPool on an input smaller than its kernel is an error, not a crash", "[nn]") {
  OneNodeModel m("MaxPool", 13);
  m.Input("x", onnx::TensorProto::FLOAT, {1, 1, -1, -1});
  m.Output("y");
  m.Ints("kernel_shape", {3, 3});
  Result<Model> model = m.Load();
  REQUIRE(model.ok());
  Result<Session> session = Session::Create(*model);
  REQUIRE(session.ok());
  std::vector<float> x(4, 1.0f);
  std::vector<NamedTensor> in = {{"x", Tensor::View(DType::kFloat32, {1, 1, 2, 2}, x.data())}};
  Result<std::vector<NamedTensor>> out = session->Run(in);
  REQUIRE(!out.ok());
  CHECK(out.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Gemm with inner dimensions that differ at run time is an error", "[nn]") {
  OneNodeModel m("Gemm", 13);
  m.Input("a", onnx::TensorProto::FLOAT, {2, -1});
  m.Input("b", onnx::TensorProto::FLOAT, {-1, 3});
  m.Output("y");
  Result<Model> model = m.Load();
  REQUIRE(model.ok());
  Result<Session> session = Session::Create(*model);
  REQUIRE(session.ok());
  std::vector<float> a(8, 1.0f), b(9, 1.0f);
  std::vector<NamedTensor> in = {{"a", Tensor::View(DType::kFloat32, {2, 4}, a.data())},
                                 {"b", Tensor::View(DType::kFloat32, {3, 3}, b.data())}};
  Result<std::vector<NamedTensor>> out = session->Run(in);
  REQUIRE(!out.ok());
  CHECK_THAT(out.status().message(), Catch::Contains("inner dimensions"));
}

TEST_CASE("BatchNormalization in training mode is reported as unsupported", "[nn]") {
  OneNodeModel m("BatchNormalization", 15);
  m.Input("x", onnx::TensorProto::FLOAT, {2, 3, 4});
  for (const char* name : {"s", "b", "mean", "var"}) {
    m.Input(name, onnx::TensorProto::FLOAT, {3});
  }
  m.Output("y");
  m.Int("training_mode", 1);
  Result<Model> model = m.Load();
  REQUIRE(model.ok());
  Result<Session> session = Session::Create(*model);
  REQUIRE(!session.ok());
  CHECK(session.status().code() == StatusCode::kUnsupported);
  CHECK_THAT(session.status().message(), Catch::Contains("training"));
}

TEST_CASE("Conv on float64 names the dtype as unsupported", "[nn]") {
  OneNodeModel m("Conv", 13);
  m.Input("x", onnx::TensorProto::DOUBLE, {1, 1, 4, 4});
  m.Input("w", onnx::TensorProto::DOUBLE, {1, 1, 3, 3});
  m.Output("y");
  Result<Model> model = m.Load();
  REQUIRE(model.ok());
  Result<Session> session = Session::Create(*model);
  REQUIRE(!session.ok());
  CHECK(session.status().code() == StatusCode::kUnsupported);
  CHECK_THAT(session.status().message(), Catch::Contains("float64"));
}

}  // namespace
}  // namespace accel
