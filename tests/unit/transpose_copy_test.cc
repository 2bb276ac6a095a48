// dm::StridedCopy on transpose-like views (the tiled path, with its AVX-512 / AVX2 blocks for
// 4-byte elements and masked or scalar ragged edges) against a naive index-mapping loop written
// here, for 1-, 2-, 4- and 8-byte elements; and the Transpose op end to end at 1 and 2 threads.
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "backends/cpu/data_movement.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

// Distinct-looking bytes, so that a misplaced element shows in every element type.
std::vector<uint8_t> PatternBytes(size_t n) {
  std::vector<uint8_t> v(n);
  uint32_t x = 12345;
  for (uint8_t& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(x >> 24);
  }
  return v;
}

// The reference: walks the output in row-major order and reads each element at the byte offset
// sum(coordinate * stride) from `src`.
std::vector<uint8_t> NaiveCopy(const uint8_t* src, const std::vector<int64_t>& dims,
                               const std::vector<int64_t>& strides, size_t elem) {
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  std::vector<uint8_t> out(static_cast<size_t>(count) * elem);
  std::vector<int64_t> pos(dims.size(), 0);
  for (int64_t n = 0; n < count; ++n) {
    int64_t offset = 0;
    for (size_t d = 0; d < dims.size(); ++d) offset += pos[d] * strides[d];
    std::memcpy(out.data() + n * elem, src + offset, elem);
    for (size_t d = dims.size(); d-- > 0;) {
      if (++pos[d] < dims[d]) break;
      pos[d] = 0;
    }
  }
  return out;
}

// Copies through dm::StridedCopy into a buffer with guard bytes on both sides and checks the
// result against NaiveCopy and the guards against stray writes.
void CheckCopy(const uint8_t* src, const std::vector<int64_t>& dims,
               const std::vector<int64_t>& strides, size_t elem) {
  std::vector<uint8_t> want = NaiveCopy(src, dims, strides, elem);
  constexpr size_t kGuard = 260;  // not a multiple of 16: unaligned vector and streaming stores
  std::vector<uint8_t> got(want.size() + 2 * kGuard, 0xa5);
  cpu::dm::StridedCopy(got.data() + kGuard, src, dims, strides, elem);
  size_t bad = 0, first_bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[kGuard + i] != want[i] && bad++ == 0) first_bad = i;
  }
  size_t guard_hits = 0;
  for (size_t i = 0; i < kGuard; ++i) {
    guard_hits += (got[i] != 0xa5) + (got[kGuard + want.size() + i] != 0xa5);
  }
  INFO("wrong bytes " << bad << " (first at element " << first_bad / elem << "), guard bytes hit "
                      << guard_hits);
  CHECK(bad == 0);
  CHECK(guard_hits == 0);
}

// Byte strides of `shape` (row-major) permuted by `perm`: the view Transpose copies.
std::vector<int64_t> PermutedStrides(const std::vector<int64_t>& shape,
                                     const std::vector<int64_t>& perm, size_t elem) {
  std::vector<int64_t> in_strides(shape.size());
  int64_t s = static_cast<int64_t>(elem);
  for (size_t d = shape.size(); d-- > 0;) {
    in_strides[d] = s;
    s *= shape[d];
  }
  std::vector<int64_t> strides;
  for (int64_t p : perm) strides.push_back(in_strides[p]);
  return strides;
}

struct Case {
  std::vector<int64_t> shape;
  std::vector<int64_t> perm;
};

const std::vector<Case> kCases = {
    {{1, 85, 3549}, {0, 2, 1}},    // yolox_nano's head: 16-wide blocks plus ragged edges
    {{3, 17, 33}, {2, 0, 1}},      //
    {{5, 16, 16}, {0, 2, 1}},      // full blocks only
    {{1, 1, 7}, {0, 2, 1}},        // not transpose-like once unit dims go
    {{2, 33, 31}, {0, 2, 1}},      //
    {{8, 8}, {1, 0}},              //
    {{17, 9}, {1, 0}},             //
    {{4, 100}, {1, 0}},            //
    {{100, 4}, {1, 0}},            //
    {{4, 5, 6, 7}, {0, 3, 1, 2}},  //
    {{2, 3, 40, 48}, {0, 1, 3, 2}},
    {{64, 3, 5}, {2, 1, 0}},
    {{3, 70, 2, 45}, {3, 1, 0, 2}},
};

void CheckAllCases(size_t elem) {
  for (const Case& c : kCases) {
    int64_t count = 1;
    for (int64_t d : c.shape) count *= d;
    std::vector<uint8_t> src = PatternBytes(static_cast<size_t>(count) * elem);
    std::vector<int64_t> dims;
    for (int64_t p : c.perm) dims.push_back(c.shape[p]);
    INFO("shape " << ShapeToString(c.shape) << " perm " << ShapeToString(c.perm) << ", " << elem
                  << "-byte elements");
    CheckCopy(src.data(), dims, PermutedStrides(c.shape, c.perm, elem), elem);
  }
}

TEST_CASE("StridedCopy transposes 4-byte elements", "[transpose]") {
  for (const char* isa : {"avx512", "avx2", "scalar"}) {
    if (!cpu::dm::SetTransposeIsaForTesting(isa)) continue;  // this CPU lacks it
    INFO("blocks: " << isa);
    CheckAllCases(4);
  }
  cpu::dm::SetTransposeIsaForTesting("");
}
TEST_CASE("StridedCopy transposes 2-byte elements", "[transpose]") { CheckAllCases(2); }
TEST_CASE("StridedCopy transposes 1-byte elements", "[transpose]") { CheckAllCases(1); }
TEST_CASE("StridedCopy transposes 8-byte elements", "[transpose]") { CheckAllCases(8); }

TEST_CASE("StridedCopy transposes unaligned and reversed 4-byte views", "[transpose]") {
  const int64_t rows = 37, cols = 53;  // source matrix rows x cols, read transposed
  std::vector<uint8_t> buf = PatternBytes(static_cast<size_t>(rows * cols + 1) * 4);
  // Starts one element in, so the vector loads are not 64-byte aligned.
  CheckCopy(buf.data() + 4, {cols, rows}, {4, cols * 4}, 4);
  // Source rows read last to first (negative stride along the output's inner dim).
  CheckCopy(buf.data() + (rows - 1) * cols * 4, {cols, rows}, {4, -cols * 4}, 4);
  // A column block of a wider matrix (rows stride wider than the copied width).
  CheckCopy(buf.data(), {40, rows}, {4, cols * 4}, 4);
}

TEST_CASE("Transpose op matches an index loop at 1 and 2 threads", "[transpose]") {
  const std::vector<int64_t> shape = {1, 85, 3549};
  testing::OneNodeModel m("Transpose", 13);
  m.Input("x", onnx::TensorProto::FLOAT, shape);
  m.Output("y");
  m.Ints("perm", {0, 2, 1});
  Result<Model> model = m.Load();
  REQUIRE(model.ok());
  const int64_t c = shape[1], n = shape[2];
  std::vector<float> x(static_cast<size_t>(c * n));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.5f - 7.0f;
  std::vector<float> want(x.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < c; ++j) want[i * c + j] = x[j * n + i];
  }
  for (int threads : {1, 2}) {
    SessionOptions options;
    options.num_threads = threads;
    Result<Session> session = Session::Create(*model, options);
    REQUIRE(session.ok());
    std::vector<NamedTensor> inputs;
    inputs.push_back({"x", Tensor::View(DType::kFloat32, shape, x.data())});
    Result<std::vector<NamedTensor>> out = session->Run(inputs);
    INFO(threads << " threads: " << out.status().ToString());
    REQUIRE(out.ok());
    const Tensor& y = (*out)[0].tensor;
    REQUIRE(y.shape() == std::vector<int64_t>{1, n, c});
    CHECK(std::memcmp(y.data(), want.data(), want.size() * sizeof(float)) == 0);
  }
}

}  // namespace
}  // namespace accel
