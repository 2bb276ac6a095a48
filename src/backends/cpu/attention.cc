// accel.Attention (core/fused_ops.h): Y = Softmax(scale * Q x Kt + Mask) x V, fused by the
// fuse_attention pass. Each (batch, block of query rows) is one work item: its scores block
// (rows x N) is computed into a per-thread buffer, masked, soft-maxed in place and multiplied by
// V straight into Y, so the full scores tensor never exists.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/elementwise_util.h"
#include "backends/cpu/vec.h"
#include "core/op_def.h"
#include "core/shape_utils.h"

namespace accel::cpu {

namespace {

// Rows per work item: a scores block of about 32 KiB stays in L1/L2 between the two products.
int64_t RowBlock(int64_t m, int64_t n) {
  return std::min(m, std::clamp<int64_t>(8192 / std::max<int64_t>(n, 1), 4, 64));
}

// Softmax of one row in place. Same arithmetic as the Softmax kernel: exp(x - max) through
// ClampedExp, sixteen partial sums. A row of only -inf gives NaN, as unfused.
[[gnu::always_inline]] inline void SoftmaxRow(float* x, int64_t n) {
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  constexpr int kLanes = 16;
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const float e = ClampedExp(x[i + j] - max);
      x[i + j] = e;
      acc[j] += e;
    }
  }
  float sum = 0;
  for (; i < n; ++i) {
    const float e = ClampedExp(x[i] - max);
    x[i] = e;
    sum += e;
  }
  for (int j = 0; j < kLanes; ++j) sum += acc[j];
  const float inv = 1.0f / sum;
  for (i = 0; i < n; ++i) x[i] *= inv;
}

// rows x n scores: add the mask (element (r, c) at mask[r * row_stride + c * col_stride]),
// then softmax each row.
[[gnu::always_inline]] inline void MaskSoftmax(float* s, int64_t rows, int64_t n, const float* mask,
                                               int64_t row_stride, int64_t col_stride) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = s + r * n;
    if (mask) {
      const float* mr = mask + r * row_stride;
      if (col_stride == 1) {
        for (int64_t c = 0; c < n; ++c) row[c] += mr[c];
      } else {
        for (int64_t c = 0; c < n; ++c) row[c] += mr[c * col_stride];
      }
    }
    SoftmaxRow(row, n);
  }
}

// C[rows, n] = alpha * A[rows, k] x B[k, n], all row-major with the given row strides, on GCC
// vectors of kLanes floats (16 = one AVX-512 register; the Attend* clones pick the width).
// Tiles of 4 rows x 2 vectors of C stay in registers over the whole k loop, so each piece of a
// B row loaded feeds four rows of A. Small and JIT-free: oneDNN's sgemm generates its whole
// kernel family on first use (~38 ms per process, more than a transformer's load and prepare);
// on attention's shapes this runs at 105-117 GFLOP/s on one core, sgemm at 50-110.
template <int kLanes, int kRows, int kVecs>
[[gnu::always_inline]] inline void GemmTile(int64_t i, int64_t j, int64_t k, float alpha,
                                            const float* a, int64_t lda, const float* b,
                                            int64_t ldb, float* c, int64_t ldc) {
  using V = typename VecOf<kLanes>::type;
  static_assert(sizeof(V) == sizeof(float) * kLanes);
  V acc[kRows][kVecs] = {};
  for (int64_t p = 0; p < k; ++p) {
    V bv[kVecs];
    for (int v = 0; v < kVecs; ++v) std::memcpy(&bv[v], b + p * ldb + j + kLanes * v, sizeof(V));
    for (int r = 0; r < kRows; ++r) {
      const float av = a[(i + r) * lda + p];
      for (int v = 0; v < kVecs; ++v) acc[r][v] += av * bv[v];
    }
  }
  for (int r = 0; r < kRows; ++r) {
    for (int v = 0; v < kVecs; ++v) {
      const V out = alpha * acc[r][v];
      std::memcpy(c + (i + r) * ldc + j + kLanes * v, &out, sizeof(V));
    }
  }
}

template <int kLanes, int kVecs>
[[gnu::always_inline]] inline void GemmColumns(int64_t rows, int64_t j, int64_t k, float alpha,
                                               const float* a, int64_t lda, const float* b,
                                               int64_t ldb, float* c, int64_t ldc) {
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) GemmTile<kLanes, 4, kVecs>(i, j, k, alpha, a, lda, b, ldb, c, ldc);
  for (; i < rows; ++i) GemmTile<kLanes, 1, kVecs>(i, j, k, alpha, a, lda, b, ldb, c, ldc);
}

template <int kLanes>
[[gnu::always_inline]] inline void GemmRows(int64_t rows, int64_t n, int64_t k, float alpha,
                                            const float* a, int64_t lda, const float* b,
                                            int64_t ldb, float* c, int64_t ldc) {
  int64_t j = 0;
  for (; j + 2 * kLanes <= n; j += 2 * kLanes) {
    GemmColumns<kLanes, 2>(rows, j, k, alpha, a, lda, b, ldb, c, ldc);
  }
  for (; j + kLanes <= n; j += kLanes)
    GemmColumns<kLanes, 1>(rows, j, k, alpha, a, lda, b, ldb, c, ldc);
  for (; j < n; ++j) {  // the last n % kLanes columns
    for (int64_t i = 0; i < rows; ++i) {
      float sum = 0.0f;
      for (int64_t p = 0; p < k; ++p) sum += a[i * lda + p] * b[p * ldb + j];
      c[i * ldc + j] = alpha * sum;
    }
  }
}

// One work item: a block of query rows against every key.
struct AttendArgs {
  int64_t rows, n, k, dv;
  float scale;
  const float* q;     // rows x k
  const float* kt;    // k x n
  const float* v;     // n x dv
  const float* mask;  // rows x n through mask_row / mask_col strides, or nullptr
  int64_t mask_row, mask_col;
  float* scores;  // rows x n scratch
  float* y;       // rows x dv
};

template <int kLanes>
[[gnu::always_inline]] inline void Attend(const AttendArgs& t) {
  GemmRows<kLanes>(t.rows, t.n, t.k, t.scale, t.q, t.k, t.kt, t.n, t.scores, t.n);
  MaskSoftmax(t.scores, t.rows, t.n, t.mask, t.mask_row, t.mask_col);
  GemmRows<kLanes>(t.rows, t.dv, t.n, 1.0f, t.scores, t.n, t.v, t.dv, t.y, t.dv);
}

using AttendFn = void (*)(const AttendArgs&);

[[gnu::target("avx512f")]] void AttendAvx512(const AttendArgs& t) { Attend<16>(t); }
[[gnu::target("avx2,fma")]] void AttendAvx2(const AttendArgs& t) { Attend<8>(t); }
void AttendBaseline(const AttendArgs& t) { Attend<4>(t); }

AttendFn PickAttend() {
  if (__builtin_cpu_supports("avx512f")) return &AttendAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &AttendAvx2;
  return &AttendBaseline;
}

// Element strides of `shape` right-aligned against `out` (rank >= shape's), 0 along
// broadcast dims. Fails when shape does not broadcast to out.
Result<std::vector<int64_t>> AlignedStrides(std::span<const int64_t> shape,
                                            std::span<const int64_t> out, const char* what) {
  if (shape.size() > out.size()) {
    return InvalidArgument(std::string(what) + " has rank " + std::to_string(shape.size()) +
                           " above the scores' " + std::to_string(out.size()));
  }
  std::vector<int64_t> strides(out.size(), 0);
  const size_t lead = out.size() - shape.size();
  int64_t step = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == out[lead + i]) {
      strides[lead + i] = shape[i] == 1 ? 0 : step;
    } else if (shape[i] != 1) {
      return InvalidArgument(std::string(what) + " shape " + ShapeToString(shape) +
                             " does not broadcast to " + ShapeToString(out));
    }
    step *= shape[i];
  }
  return strides;
}

struct Dims {
  std::vector<int64_t> batch;  // broadcast batch dims of the output
  int64_t m = 0, k = 0, n = 0, d = 0;
};

// The output dims from the three operand shapes; `unknown` dims (-1) allowed at load time.
Result<Dims> OutputDims(std::span<const int64_t> q, std::span<const int64_t> kt,
                        std::span<const int64_t> v) {
  if (q.size() < 2 || kt.size() < 2 || v.size() < 2) {
    return InvalidArgument("Q, Kt and V must have rank >= 2");
  }
  Dims d;
  d.m = q[q.size() - 2];
  d.k = q.back();
  d.n = kt.back();
  d.d = v.back();
  const int64_t k2 = kt[kt.size() - 2];
  const int64_t n2 = v[v.size() - 2];
  if (d.k >= 0 && k2 >= 0 && d.k != k2) {
    return InvalidArgument("Q " + ShapeToString(q) + " and Kt " + ShapeToString(kt) +
                           " do not multiply");
  }
  if (d.n >= 0 && n2 >= 0 && d.n != n2) {
    return InvalidArgument("scores [.., " + std::to_string(d.n) + "] and V " + ShapeToString(v) +
                           " do not multiply");
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> b,
                         core::BroadcastShapes(q.first(q.size() - 2), kt.first(kt.size() - 2)));
  ACCEL_ASSIGN_OR_RETURN(d.batch, core::BroadcastShapes(b, v.first(v.size() - 2)));
  return d;
}

Status InferAttention(core::InferContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2)) {
    return InvalidModel("expects inputs Q, Kt and V");
  }
  ACCEL_RETURN_IF_ERROR(ctx.attrs().GetFloat("scale", 1.0f).status());
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.has_input(i) && ctx.input_type(i).dtype != DType::kFloat32) {
      return UnsupportedDType(ctx.input_type(i).dtype);
    }
  }
  const core::TensorType& q = ctx.input_type(0);
  const core::TensorType& kt = ctx.input_type(1);
  const core::TensorType& v = ctx.input_type(2);
  if (!q.has_shape || !kt.has_shape || !v.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(DType::kFloat32));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(Dims d, OutputDims(q.dims, kt.dims, v.dims));
  std::vector<int64_t> out = d.batch;
  out.push_back(d.m);
  out.push_back(d.d);
  ctx.set_output(0, DType::kFloat32, std::move(out));
  return Status::Ok();
}

class AttentionKernel final : public core::Kernel {
 public:
  explicit AttentionKernel(float scale) : scale_(scale) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& q = ctx.input(0);
    const Tensor& kt = ctx.input(1);
    const Tensor& v = ctx.input(2);
    const bool has_mask = ctx.num_inputs() > 3 && ctx.has_input(3);
    for (size_t i = 0; i < (has_mask ? 4u : 3u); ++i) {
      if (ctx.input(i).dtype() != DType::kFloat32) return UnsupportedDType(ctx.input(i).dtype());
    }
    const Tensor* mt = has_mask ? &ctx.input(3) : nullptr;
    // The broadcast offsets depend only on the shapes: planned once per set of shapes, so a
    // steady run allocates nothing.
    if (q.shape() != plan_.q || kt.shape() != plan_.kt || v.shape() != plan_.v ||
        has_mask != plan_.has_mask || (mt && mt->shape() != plan_.mask)) {
      ACCEL_RETURN_IF_ERROR(MakePlan(q.shape(), kt.shape(), v.shape(), mt));
    }
    const Dims& d = plan_.dims;
    const int64_t batches = ElementCount(d.batch);
    const float* mask = mt ? mt->data_as<float>() : nullptr;
    const int64_t mask_row = plan_.mask_row, mask_col = plan_.mask_col;
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (y->element_count() == 0) return Status::Ok();
    float* out = y->data_as<float>();
    if (d.n == 0) {
      // Softmax over no keys weighs no rows of V.
      std::fill(out, out + y->element_count(), 0.0f);
      return Status::Ok();
    }
    const float* qs = q.data_as<float>();
    const float* ks = kt.data_as<float>();
    const float* vs = v.data_as<float>();
    const int64_t rb = RowBlock(d.m, d.n);
    const int64_t blocks = (d.m + rb - 1) / rb;
    const int64_t items = batches * blocks;
    static const AttendFn attend = PickAttend();
    const int64_t work = batches * d.m * d.n * (d.k + d.d);
    const int threads = omp_get_max_threads();
    if (scores_.size() < static_cast<size_t>(threads)) scores_.resize(threads);
    for (std::vector<float>& buffer : scores_) buffer.resize(static_cast<size_t>(rb * d.n));
    const std::vector<int64_t>& q_off = plan_.q_off;
    const std::vector<int64_t>& kt_off = plan_.kt_off;
    const std::vector<int64_t>& v_off = plan_.v_off;
    const std::vector<int64_t>& mask_off = plan_.mask_off;
#pragma omp parallel if (items > 1 && work >= kParallelMinElements)
    {
      std::vector<float>& scores = scores_[omp_get_thread_num()];
#pragma omp for schedule(static)
      for (int64_t it = 0; it < items; ++it) {
        const int64_t b = it / blocks;
        const int64_t r0 = (it % blocks) * rb;
        attend({.rows = std::min(rb, d.m - r0),
                .n = d.n,
                .k = d.k,
                .dv = d.d,
                .scale = scale_,
                .q = qs + q_off[b] + r0 * d.k,
                .kt = ks + kt_off[b],
                .v = vs + v_off[b],
                .mask = mask ? mask + mask_off[b] + r0 * mask_row : nullptr,
                .mask_row = mask_row,
                .mask_col = mask_col,
                .scores = scores.data(),
                .y = out + (b * d.m + r0) * d.d});
      }
    }
    return Status::Ok();
  }

 private:
  // Everything derived from the input shapes alone.
  struct Plan {
    Shape q, kt, v, mask;
    bool has_mask = false;
    Dims dims;
    std::vector<int64_t> q_off, kt_off, v_off, mask_off;  // per output batch index
    int64_t mask_row = 0, mask_col = 0;
  };

  Status MakePlan(const Shape& q, const Shape& kt, const Shape& v, const Tensor* mask) {
    plan_ = Plan{};
    ACCEL_ASSIGN_OR_RETURN(plan_.dims, OutputDims(q, kt, v));
    const Dims& d = plan_.dims;
    // Offsets of each operand's matrix per output batch index, through broadcast strides.
    ACCEL_RETURN_IF_ERROR(BatchOffsets(q, d.batch, d.m * d.k, "Q", plan_.q_off));
    ACCEL_RETURN_IF_ERROR(BatchOffsets(kt, d.batch, d.k * d.n, "Kt", plan_.kt_off));
    ACCEL_RETURN_IF_ERROR(BatchOffsets(v, d.batch, d.n * d.d, "V", plan_.v_off));
    if (mask) {
      std::vector<int64_t> scores = d.batch;
      scores.push_back(d.m);
      scores.push_back(d.n);
      ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> strides,
                             AlignedStrides(mask->shape(), scores, "Mask"));
      plan_.mask_row = strides[strides.size() - 2];
      plan_.mask_col = strides.back();
      const int64_t batches = ElementCount(d.batch);
      plan_.mask_off.resize(static_cast<size_t>(batches));
      for (int64_t b = 0; b < batches; ++b) {
        int64_t rest = b, off = 0;
        for (size_t i = d.batch.size(); i-- > 0;) {
          off += (rest % d.batch[i]) * strides[i];
          rest /= d.batch[i];
        }
        plan_.mask_off[b] = off;
      }
      plan_.mask = mask->shape();
    }
    // Set last: a failed plan is rebuilt (and fails again) on the next run.
    plan_.q = q;
    plan_.kt = kt;
    plan_.v = v;
    plan_.has_mask = mask != nullptr;
    return Status::Ok();
  }

  // The element offset of the operand's matrix for each flat output batch index.
  static Status BatchOffsets(std::span<const int64_t> shape, std::span<const int64_t> batch,
                             int64_t matrix, const char* what, std::vector<int64_t>& offsets) {
    ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> strides,
                           AlignedStrides(shape.first(shape.size() - 2), batch, what));
    const int64_t count = ElementCount(batch);
    offsets.resize(static_cast<size_t>(count));
    for (int64_t b = 0; b < count; ++b) {
      int64_t rest = b, off = 0;
      for (size_t i = batch.size(); i-- > 0;) {
        off += (rest % batch[i]) * strides[i];
        rest /= batch[i];
      }
      offsets[b] = off * matrix;
    }
    return Status::Ok();
  }

  float scale_;
  Plan plan_;
  std::vector<std::vector<float>> scores_;  // per OpenMP thread: one block of scores
};

Result<std::unique_ptr<core::Kernel>> CreateAttention(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(float scale, init.attrs.GetFloat("scale", 1.0f));
  for (size_t i = 0; i < 3; ++i) {
    if (!init.has_input(i)) return InvalidModel("missing input " + std::to_string(i));
  }
  for (size_t i = 0; i < init.input_types.size(); ++i) {
    if (init.has_input(i) && init.input_types[i]->dtype != DType::kFloat32) {
      return UnsupportedDType(init.input_types[i]->dtype);
    }
  }
  return std::unique_ptr<core::Kernel>(std::make_unique<AttentionKernel>(scale));
}

}  // namespace

const core::OpDef& AccelAttentionOpDef() {
  static const core::OpDef def{"Attention", "accel", {1}, 1, InferAttention, CreateAttention};
  return def;
}

}  // namespace accel::cpu
