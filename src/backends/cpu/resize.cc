// Resize (10, 11, 13, 18, 19) and the older Upsample (7, 9).
//
// Resizing is separable: each resized axis is resampled in its own pass, with a per-output-index
// table of source taps and weights (1 tap for nearest, 2 for linear, 4 for cubic, more for
// antialiased downscaling). Nearest works on bytes, so every dtype works; linear and cubic
// compute in float (double for float64 input).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "backends/cpu/dnnl_util.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

enum class Mode { kNearest, kLinear, kCubic };
enum class Coord {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
  kTfCropAndResize,
};
// kSimple: the rule of Upsample and Resize-10 (floor when upscaling, ceil when downscaling).
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };
enum class Policy { kStretch, kNotLarger, kNotSmaller };

struct ResizeAttrs {
  Mode mode = Mode::kNearest;
  Coord coord = Coord::kHalfPixel;
  Nearest nearest = Nearest::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
  Policy policy = Policy::kStretch;
  std::vector<int64_t> axes;  // empty: all axes
  bool antialias = false;
  bool upsample = false;  // the Upsample op
  int opset = 0;

  // Input positions of roi, scales and sizes (-1 when the version has no such input).
  int roi_input() const { return upsample || opset < 11 ? -1 : 1; }
  int scales_input() const { return upsample ? (opset < 9 ? -1 : 1) : (opset < 11 ? 1 : 2); }
  int sizes_input() const { return upsample || opset < 11 ? -1 : 3; }
};

Result<ResizeAttrs> ParseAttrs(const core::Attributes& attrs, int opset, bool upsample) {
  ResizeAttrs a;
  a.opset = opset;
  a.upsample = upsample;
  ACCEL_ASSIGN_OR_RETURN(std::string mode, attrs.GetString("mode", "nearest"));
  if (mode == "nearest") {
    a.mode = Mode::kNearest;
  } else if (mode == "linear" || (upsample && mode == "bilinear")) {
    a.mode = Mode::kLinear;
  } else if (mode == "cubic" && !upsample && opset >= 11) {
    a.mode = Mode::kCubic;
  } else {
    return InvalidModel("unknown mode '" + mode + "'");
  }
  if (upsample || opset < 11) {
    a.coord = Coord::kAsymmetric;
    a.nearest = Nearest::kSimple;
    return a;
  }
  ACCEL_ASSIGN_OR_RETURN(std::string coord,
                         attrs.GetString("coordinate_transformation_mode", "half_pixel"));
  if (coord == "half_pixel") {
    a.coord = Coord::kHalfPixel;
  } else if (coord == "half_pixel_symmetric") {
    a.coord = Coord::kHalfPixelSymmetric;
  } else if (coord == "pytorch_half_pixel") {
    a.coord = Coord::kPytorchHalfPixel;
  } else if (coord == "align_corners") {
    a.coord = Coord::kAlignCorners;
  } else if (coord == "asymmetric") {
    a.coord = Coord::kAsymmetric;
  } else if (coord == "tf_half_pixel_for_nn") {
    // Defined for nearest only; ONNX Runtime and the ONNX reference disagree on the rest.
    if (a.mode != Mode::kNearest) {
      return Unsupported("tf_half_pixel_for_nn with mode '" + mode + "'");
    }
    a.coord = Coord::kTfHalfPixelForNn;
  } else if (coord == "tf_crop_and_resize") {
    a.coord = Coord::kTfCropAndResize;
  } else {
    return InvalidModel("unknown coordinate_transformation_mode '" + coord + "'");
  }
  ACCEL_ASSIGN_OR_RETURN(std::string nearest,
                         attrs.GetString("nearest_mode", "round_prefer_floor"));
  if (nearest == "round_prefer_floor") {
    a.nearest = Nearest::kRoundPreferFloor;
  } else if (nearest == "round_prefer_ceil") {
    a.nearest = Nearest::kRoundPreferCeil;
  } else if (nearest == "floor") {
    a.nearest = Nearest::kFloor;
  } else if (nearest == "ceil") {
    a.nearest = Nearest::kCeil;
  } else {
    return InvalidModel("unknown nearest_mode '" + nearest + "'");
  }
  ACCEL_ASSIGN_OR_RETURN(float cubic_a, attrs.GetFloat("cubic_coeff_a", -0.75f));
  ACCEL_ASSIGN_OR_RETURN(int64_t exclude, attrs.GetInt("exclude_outside", 0));
  ACCEL_ASSIGN_OR_RETURN(float extrapolation, attrs.GetFloat("extrapolation_value", 0.0f));
  a.cubic_a = cubic_a;
  a.exclude_outside = exclude != 0;
  a.extrapolation = extrapolation;
  if (opset >= 18) {
    ACCEL_ASSIGN_OR_RETURN(std::string policy,
                           attrs.GetString("keep_aspect_ratio_policy", "stretch"));
    if (policy == "stretch") {
      a.policy = Policy::kStretch;
    } else if (policy == "not_larger") {
      a.policy = Policy::kNotLarger;
    } else if (policy == "not_smaller") {
      a.policy = Policy::kNotSmaller;
    } else {
      return InvalidModel("unknown keep_aspect_ratio_policy '" + policy + "'");
    }
    ACCEL_ASSIGN_OR_RETURN(a.axes, attrs.GetInts("axes"));
    ACCEL_ASSIGN_OR_RETURN(int64_t antialias, attrs.GetInt("antialias", 0));
    a.antialias = antialias != 0 && a.mode != Mode::kNearest;
  }
  return a;
}

Result<std::vector<double>> ReadDoubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.element_count()));
  for (size_t i = 0; i < v.size(); ++i) {
    ACCEL_ASSIGN_OR_RETURN(v[i], dm::ScalarAsDouble(t, static_cast<int64_t>(i)));
  }
  return v;
}

// Output dims, per-axis scales and per-axis roi for concrete resize parameters.
struct Plan {
  std::vector<int64_t> out_dims;
  std::vector<double> scales;
  std::vector<double> roi_start, roi_end;
};

// The inputs a plan is made from; `scales`/`sizes` null when absent or empty.
struct PlanInputs {
  const Tensor* roi = nullptr;
  const Tensor* scales = nullptr;
  const Tensor* sizes = nullptr;
  std::vector<float> scale_attr;  // Upsample-7
};

Result<Plan> MakePlan(const ResizeAttrs& a, std::span<const int64_t> in, const PlanInputs& p) {
  int64_t rank = static_cast<int64_t>(in.size());
  std::vector<int64_t> axes = a.axes;
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  std::vector<bool> seen(rank, false);
  for (int64_t& axis : axes) {
    ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, rank));
    if (seen[axis]) return InvalidModel("axes has a repeated axis");
    seen[axis] = true;
  }
  size_t n = axes.size();
  Plan plan;
  plan.out_dims.assign(in.begin(), in.end());
  plan.scales.assign(rank, 1.0);
  plan.roi_start.assign(rank, 0.0);
  plan.roi_end.assign(rank, 1.0);
  if (a.coord == Coord::kTfCropAndResize && p.roi && p.roi->element_count() > 0) {
    ACCEL_ASSIGN_OR_RETURN(std::vector<double> roi, ReadDoubles(*p.roi));
    if (roi.size() != 2 * n) {
      return InvalidModel("roi has " + std::to_string(roi.size()) + " values for " +
                          std::to_string(n) + " axes");
    }
    for (size_t i = 0; i < n; ++i) {
      plan.roi_start[axes[i]] = roi[i];
      plan.roi_end[axes[i]] = roi[i + n];
    }
  }
  if (p.scales || !p.scale_attr.empty()) {
    std::vector<double> scales(p.scale_attr.begin(), p.scale_attr.end());
    if (p.scales) {
      ACCEL_ASSIGN_OR_RETURN(scales, ReadDoubles(*p.scales));
    }
    if (scales.size() != n) {
      return InvalidModel("scales has " + std::to_string(scales.size()) + " values for " +
                          std::to_string(n) + " axes");
    }
    for (size_t i = 0; i < n; ++i) {
      if (!(scales[i] > 0) || !std::isfinite(scales[i])) {
        return InvalidModel("scale " + std::to_string(scales[i]) + " must be positive");
      }
      int64_t axis = axes[i];
      plan.scales[axis] = scales[i];
      if (in[axis] >= 0) {
        // floor(in * scale), without the roi factor the spec mentions for tf_crop_and_resize:
        // the ONNX reference and ONNX Runtime both leave it out.
        double d = std::floor(static_cast<double>(in[axis]) * scales[i]);
        if (!(d >= 0 && d <= static_cast<double>(int64_t{1} << 40))) {
          return InvalidModel("scale gives an invalid output size");
        }
        plan.out_dims[axis] = static_cast<int64_t>(d);
      }
    }
    return plan;
  }
  if (!p.sizes) return InvalidModel("one of scales and sizes must be given");
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, core::ReadInts(*p.sizes));
  if (sizes.size() != n) {
    return InvalidModel("sizes has " + std::to_string(sizes.size()) + " values for " +
                        std::to_string(n) + " axes");
  }
  for (int64_t s : sizes) {
    if (s < 0) return InvalidModel("sizes has negative value " + std::to_string(s));
  }
  if (a.policy == Policy::kStretch) {
    for (size_t i = 0; i < n; ++i) {
      int64_t axis = axes[i];
      plan.out_dims[axis] = sizes[i];
      if (in[axis] > 0) plan.scales[axis] = static_cast<double>(sizes[i]) / in[axis];
    }
    return plan;
  }
  // keep_aspect_ratio_policy: one scale for all axes, the min or max of the per-axis ones.
  double scale = a.policy == Policy::kNotLarger ? INFINITY : 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (in[axes[i]] <= 0) {
      // Unknown (load time) or empty input dim: nothing precise to say yet.
      for (size_t k = 0; k < n; ++k) plan.out_dims[axes[k]] = -1;
      return plan;
    }
    double s = static_cast<double>(sizes[i]) / in[axes[i]];
    scale = a.policy == Policy::kNotLarger ? std::min(scale, s) : std::max(scale, s);
  }
  for (size_t i = 0; i < n; ++i) {
    int64_t axis = axes[i];
    plan.scales[axis] = scale;
    plan.out_dims[axis] = static_cast<int64_t>(scale * in[axis] + 0.5);
  }
  return plan;
}

// The plan inputs as a shape rule sees them; *known false when a needed value is missing.
template <typename GetValue>
Result<PlanInputs> CollectInputs(const ResizeAttrs& a, const core::Attributes& attrs,
                                 size_t num_inputs, GetValue value_of, bool* known) {
  *known = true;
  PlanInputs p;
  if (a.upsample && a.opset < 9) {
    ACCEL_ASSIGN_OR_RETURN(p.scale_attr, attrs.GetFloats("scales"));
    return p;
  }
  auto fetch = [&](int index, const Tensor** out) {
    if (index < 0 || static_cast<size_t>(index) >= num_inputs) return;
    bool present = false;
    const Tensor* t = value_of(index, &present);
    if (!present) return;
    if (!t) {
      *known = false;
      return;
    }
    if (t->element_count() > 0) *out = t;
  };
  fetch(a.roi_input(), &p.roi);
  fetch(a.scales_input(), &p.scales);
  fetch(a.sizes_input(), &p.sizes);
  if (p.scales && p.sizes) return InvalidModel("only one of scales and sizes may be given");
  // A known scales/sizes is enough even if roi is unknown, unless roi matters.
  if (!*known && (p.scales || p.sizes) && a.coord != Coord::kTfCropAndResize) *known = true;
  return p;
}

Status InferResizeImpl(core::InferContext& ctx, bool upsample) {
  const core::TensorType& in = ctx.input_type(0);
  ACCEL_ASSIGN_OR_RETURN(ResizeAttrs a, ParseAttrs(ctx.attrs(), ctx.opset(), upsample));
  if (!in.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(in.dtype));
    return Status::Ok();
  }
  bool known = false;
  ACCEL_ASSIGN_OR_RETURN(PlanInputs p, CollectInputs(
                                           a, ctx.attrs(), ctx.num_inputs(),
                                           [&](int i, bool* present) -> const Tensor* {
                                             *present = ctx.has_input(i);
                                             return *present ? ctx.input_value(i) : nullptr;
                                           },
                                           &known));
  if (!known) {
    ctx.set_output(0, in.dtype, std::vector<int64_t>(in.dims.size(), -1));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(Plan plan, MakePlan(a, in.dims, p));
  ctx.set_output(0, in.dtype, std::move(plan.out_dims));
  return Status::Ok();
}

Status InferResize(core::InferContext& ctx) { return InferResizeImpl(ctx, false); }
Status InferUpsample(core::InferContext& ctx) { return InferResizeImpl(ctx, true); }

// ---- per-axis tap tables ----

struct AxisTable {
  int64_t taps = 1;
  std::vector<int64_t> index;    // [out][tap]
  std::vector<double> weight;    // [out][tap]
  std::vector<uint8_t> outside;  // [out]: 1 = extrapolation value (tf_crop_and_resize)
};

// Source coordinate of output index x. Like the ONNX reference, the formulas use the
// fractional output length in_len * scale where the spec says "length_resized".
double SourceCoord(const ResizeAttrs& a, int64_t x, double scale, int64_t in_len, int64_t out_len,
                   double roi_start, double roi_end) {
  double xd = static_cast<double>(x);
  double out_f = scale * static_cast<double>(in_len);
  switch (a.coord) {
    case Coord::kHalfPixel:
      return (xd + 0.5) / scale - 0.5;
    case Coord::kHalfPixelSymmetric: {
      double adjustment = out_len / out_f;
      double center = in_len / 2.0;
      return center * (1 - adjustment) + (xd + 0.5) / scale - 0.5;
    }
    case Coord::kPytorchHalfPixel:
      return out_len > 1 ? (xd + 0.5) / scale - 0.5 : 0.0;
    case Coord::kAlignCorners:
      return out_f == 1.0 ? 0.0 : xd * (in_len - 1) / (out_f - 1.0);
    case Coord::kAsymmetric:
      return xd / scale;
    case Coord::kTfHalfPixelForNn:
      return (xd + 0.5) / scale;
    case Coord::kTfCropAndResize:
      return out_f > 1.0 ? roi_start * (in_len - 1) +
                               xd * (roi_end - roi_start) * (in_len - 1) / (out_f - 1.0)
                         : 0.5 * (roi_start + roi_end) * (in_len - 1);
  }
  return 0.0;
}

int64_t NearestIndex(double x, Nearest mode, bool downscale) {
  switch (mode) {
    case Nearest::kRoundPreferFloor:
      return static_cast<int64_t>(std::ceil(x - 0.5));
    case Nearest::kRoundPreferCeil:
      return static_cast<int64_t>(std::floor(x + 0.5));
    case Nearest::kFloor:
      return static_cast<int64_t>(std::floor(x));
    case Nearest::kCeil:
      return static_cast<int64_t>(std::ceil(x));
    case Nearest::kSimple:
      return static_cast<int64_t>(downscale ? std::ceil(x) : std::floor(x));
  }
  return 0;
}

double CubicWeight(double x, double A) {
  x = std::abs(x);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0.0;
}

AxisTable MakeTable(const ResizeAttrs& a, int64_t in_len, int64_t out_len, double scale,
                    double roi_start, double roi_end) {
  AxisTable t;
  // Antialiasing widens the filter by 1/scale when downscaling.
  double support_scale = a.antialias ? std::min(scale, 1.0) : 1.0;
  if (a.mode == Mode::kNearest) {
    t.taps = 1;
  } else {
    int64_t radius = a.mode == Mode::kLinear ? 1 : 2;
    int64_t start = static_cast<int64_t>(std::floor(-radius / support_scale) + 1);
    t.taps = 2 - 2 * start;
  }
  t.index.assign(out_len * t.taps, 0);
  t.weight.assign(out_len * t.taps, 0.0);
  t.outside.assign(out_len, 0);
  for (int64_t x = 0; x < out_len; ++x) {
    double src = SourceCoord(a, x, scale, in_len, out_len, roi_start, roi_end);
    if (a.coord == Coord::kTfCropAndResize && !(src >= 0 && src <= in_len - 1)) {
      t.outside[x] = 1;
      continue;
    }
    // Far outside the input every tap clamps to the edge, so clamping the coordinate changes
    // nothing, and it keeps extreme scales from overflowing the integer conversions below.
    double margin = static_cast<double>(t.taps) + 2.0;
    src = std::clamp(src, -margin, static_cast<double>(in_len) + margin);
    int64_t* idx = &t.index[x * t.taps];
    double* w = &t.weight[x * t.taps];
    if (a.mode == Mode::kNearest) {
      idx[0] = std::clamp<int64_t>(NearestIndex(src, a.nearest, scale < 1.0), 0, in_len - 1);
      w[0] = 1.0;
      continue;
    }
    double base = std::floor(src);
    double ratio = src - base;
    // Taps are consecutive source positions; first = the leftmost with nonzero support.
    int64_t first = static_cast<int64_t>(base) - (t.taps / 2 - 1);
    double sum = 0.0;
    for (int64_t k = 0; k < t.taps; ++k) {
      int64_t pos = first + k;
      double dist = (static_cast<double>(pos) - static_cast<double>(base) - ratio) * support_scale;
      double weight = a.mode == Mode::kLinear ? std::max(0.0, 1.0 - std::abs(dist))
                                              : CubicWeight(dist, a.cubic_a);
      if (a.exclude_outside && (pos < 0 || pos >= in_len)) weight = 0.0;
      idx[k] = std::clamp<int64_t>(pos, 0, in_len - 1);
      w[k] = weight;
      sum += weight;
    }
    if ((a.exclude_outside || a.antialias) && sum != 0.0) {
      for (int64_t k = 0; k < t.taps; ++k) w[k] /= sum;
    }
  }
  return t;
}

// ---- passes ----

// One nearest pass on bytes: out[o, j, :] = in[o, index[j], :].
void NearestPass(const uint8_t* in, uint8_t* out, int64_t outer, int64_t n_in, int64_t n_out,
                 int64_t inner_bytes, const AxisTable& t, const uint8_t* fill, size_t elem) {
  bool parallel = outer * n_out * inner_bytes >= (int64_t{1} << 16);
#pragma omp parallel for if (parallel)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < n_out; ++j) {
      uint8_t* dst = out + (o * n_out + j) * inner_bytes;
      if (t.outside[j]) {
        for (int64_t b = 0; b < inner_bytes; b += elem) std::memcpy(dst + b, fill, elem);
        continue;
      }
      const uint8_t* src = in + (o * n_in + t.index[j]) * inner_bytes;
      switch (inner_bytes) {
        case 1:
          *dst = *src;
          break;
        case 2:
          std::memcpy(dst, src, 2);
          break;
        case 4:
          std::memcpy(dst, src, 4);
          break;
        case 8:
          std::memcpy(dst, src, 8);
          break;
        default:
          std::memcpy(dst, src, inner_bytes);
      }
    }
  }
}

// One interpolating pass: out[o, j, i] = sum_k w[j][k] * in[o, index[j][k], i].
template <typename T>
void InterpolatePass(const T* in, T* out, int64_t outer, int64_t n_in, int64_t n_out, int64_t inner,
                     const AxisTable& t, T fill) {
  bool parallel = outer * n_out * inner >= (int64_t{1} << 14);
#pragma omp parallel for if (parallel)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < n_out; ++j) {
      T* dst = out + (o * n_out + j) * inner;
      if (t.outside[j]) {
        std::fill(dst, dst + inner, fill);
        continue;
      }
      std::fill(dst, dst + inner, T(0));
      for (int64_t k = 0; k < t.taps; ++k) {
        T w = static_cast<T>(t.weight[j * t.taps + k]);
        if (w == T(0)) continue;
        const T* src = in + (o * n_in + t.index[j * t.taps + k]) * inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] += w * src[i];
      }
    }
  }
}

bool IsIdentity(const ResizeAttrs& a, const Plan& plan, int64_t axis, int64_t in_len) {
  if (plan.out_dims[axis] != in_len) return false;
  if (a.coord == Coord::kTfCropAndResize) {
    return plan.roi_start[axis] == 0.0 && plan.roi_end[axis] == 1.0;
  }
  if (a.coord == Coord::kTfHalfPixelForNn) return false;
  return std::abs(plan.scales[axis] - 1.0) < 1e-12;
}

// What a kernel keeps between runs with the same shapes and resize parameters (reset when either
// changes), so that steady runs allocate nothing.
struct ResizeScratch {
  bool valid = false;                 // the members below match the current plan
  std::vector<AxisTable> tables;      // per axis; empty for axes not resampled
  std::vector<int64_t> resized;       // nearest: the resampled axes, in pass order
  std::vector<Tensor> stages;         // nearest: results between passes
  Tensor fill;                        // nearest: the extrapolation value in the input's dtype
  std::vector<float> cur_f, next_f;   // interpolation buffers (float compute)
  std::vector<double> cur_d, next_d;  // interpolation buffers (double compute)
  Plan physical;                      // blocked nearest: the plan over the physical dims
  Tensor x_plain, y_plain;            // blocked fallback: plain copies of input and output

  template <typename T>
  std::vector<T>& cur() {
    if constexpr (std::is_same_v<T, float>) {
      return cur_f;
    } else {
      return cur_d;
    }
  }
  template <typename T>
  std::vector<T>& next() {
    if constexpr (std::is_same_v<T, float>) {
      return next_f;
    } else {
      return next_d;
    }
  }
};

// The tap table of every axis a pass resamples, for input dims `in`.
void MakeTables(const ResizeAttrs& a, const Plan& plan, std::span<const int64_t> in,
                ResizeScratch& s) {
  s.tables.assign(in.size(), AxisTable{});
  DimVector dims(in);
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    if (IsIdentity(a, plan, axis, dims[axis])) continue;
    const int64_t n_in = dims[axis], n_out = plan.out_dims[axis];
    dims[axis] = n_out;
    // As the passes: no table when the result is empty or the run fails on an empty axis.
    if (n_in == 0 || ElementCount(dims) == 0) continue;
    s.tables[axis] =
        MakeTable(a, n_in, n_out, plan.scales[axis], plan.roi_start[axis], plan.roi_end[axis]);
  }
}

template <typename T>
Status RunInterpolate(const Tensor& in, Tensor& out, const ResizeAttrs& a, const Plan& plan,
                      ResizeScratch& scratch) {
  int64_t count = in.element_count();
  std::vector<T>& cur = scratch.cur<T>();
  std::vector<T>& next = scratch.next<T>();
  if (!scratch.valid) {
    MakeTables(a, plan, in.shape(), scratch);
    // Both buffers hold every stage, since the passes swap them.
    int64_t most = count;
    DimVector dims(in.shape());
    for (size_t axis = 0; axis < dims.size(); ++axis) {
      dims[axis] = plan.out_dims[axis];
      most = std::max(most, ElementCount(dims));
    }
    cur.reserve(static_cast<size_t>(most));
    next.reserve(static_cast<size_t>(most));
    scratch.valid = true;
  }
  // Work in T (float or double); other dtypes are converted in and out.
  cur.resize(static_cast<size_t>(count));
  if ((std::is_same_v<T, float> && in.dtype() == DType::kFloat32) ||
      (std::is_same_v<T, double> && in.dtype() == DType::kFloat64)) {
    if (count) std::memcpy(cur.data(), in.data(), count * sizeof(T));
  } else {
    for (int64_t i = 0; i < count; ++i) {
      ACCEL_ASSIGN_OR_RETURN(double v, dm::ScalarAsDouble(in, i));
      cur[i] = static_cast<T>(v);
    }
  }
  DimVector dims(in.shape());
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    if (IsIdentity(a, plan, axis, dims[axis])) continue;
    int64_t n_in = dims[axis], n_out = plan.out_dims[axis];
    int64_t outer = ElementCount(std::span(dims).subspan(0, axis));
    int64_t inner = ElementCount(std::span(dims).subspan(axis + 1));
    dims[axis] = n_out;
    next.assign(static_cast<size_t>(ElementCount(dims)), T(0));
    if (n_in == 0 && !next.empty()) return InvalidModel("cannot resize an empty axis");
    if (!next.empty()) {
      InterpolatePass<T>(cur.data(), next.data(), outer, n_in, n_out, inner, scratch.tables[axis],
                         static_cast<T>(a.extrapolation));
    }
    cur.swap(next);
  }
  bool is_int = in.dtype() != DType::kFloat32 && in.dtype() != DType::kFloat64 &&
                in.dtype() != DType::kFloat16 && in.dtype() != DType::kBFloat16;
  if ((std::is_same_v<T, float> && in.dtype() == DType::kFloat32) ||
      (std::is_same_v<T, double> && in.dtype() == DType::kFloat64)) {
    if (!cur.empty()) std::memcpy(out.data(), cur.data(), cur.size() * sizeof(T));
    return Status::Ok();
  }
  for (size_t i = 0; i < cur.size(); ++i) {
    double v = static_cast<double>(cur[i]);
    if (is_int) {
      // Round to nearest and saturate, like a saturating cast to the integer type.
      v = std::nearbyint(v);
      double lo = 0, hi = 0;
      ACCEL_RETURN_IF_ERROR(dm::VisitNumeric(in.dtype(), [&](auto tag) -> Status {
        using I = decltype(tag);
        lo = static_cast<double>(std::numeric_limits<I>::lowest());
        hi = static_cast<double>(std::numeric_limits<I>::max());
        return Status::Ok();
      }));
      v = std::clamp(v, lo, hi);
    }
    ACCEL_RETURN_IF_ERROR(dm::StoreFromDouble(out, static_cast<int64_t>(i), v));
  }
  return Status::Ok();
}

Status PrepareNearest(const Tensor& in, const ResizeAttrs& a, const Plan& plan, ResizeScratch& s) {
  ACCEL_ASSIGN_OR_RETURN(s.fill, Tensor::Zeros(in.dtype(), {}));
  ACCEL_RETURN_IF_ERROR(dm::StoreFromDouble(s.fill, 0, a.extrapolation));
  MakeTables(a, plan, in.shape(), s);
  s.resized.clear();
  s.stages.clear();
  Shape dims = in.shape();
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    if (IsIdentity(a, plan, axis, dims[axis])) continue;
    if (!s.resized.empty()) {
      ACCEL_ASSIGN_OR_RETURN(Tensor stage, Tensor::Create(in.dtype(), dims));
      s.stages.push_back(std::move(stage));
    }
    s.resized.push_back(static_cast<int64_t>(axis));
    dims[axis] = plan.out_dims[axis];
  }
  s.valid = true;
  return Status::Ok();
}

Status RunNearest(const Tensor& in, Tensor& out, const ResizeAttrs& a, const Plan& plan,
                  ResizeScratch& scratch) {
  if (!scratch.valid) ACCEL_RETURN_IF_ERROR(PrepareNearest(in, a, plan, scratch));
  size_t elem = DTypeSize(in.dtype());
  const std::vector<int64_t>& resized = scratch.resized;
  if (resized.empty()) {
    if (in.byte_size()) std::memcpy(out.data(), in.data(), in.byte_size());
    return Status::Ok();
  }
  DimVector dims(in.shape());
  const Tensor* cur = &in;
  for (size_t r = 0; r < resized.size(); ++r) {
    int64_t axis = resized[r];
    int64_t n_in = dims[axis], n_out = plan.out_dims[axis];
    int64_t outer = ElementCount(std::span(dims.data(), dims.size()).subspan(0, axis));
    int64_t inner = ElementCount(std::span(dims.data(), dims.size()).subspan(axis + 1));
    dims[axis] = n_out;
    Tensor& next = r + 1 < resized.size() ? scratch.stages[r] : out;
    if (n_in == 0 && ElementCount(dims) > 0) return InvalidModel("cannot resize an empty axis");
    if (ElementCount(dims) > 0) {
      NearestPass(static_cast<const uint8_t*>(cur->data()), static_cast<uint8_t*>(next.data()),
                  outer, n_in, n_out, inner * static_cast<int64_t>(elem), scratch.tables[axis],
                  static_cast<const uint8_t*>(scratch.fill.data()), elem);
    }
    cur = &next;
  }
  return Status::Ok();
}

class ResizeKernel final : public core::Kernel {
 public:
  ResizeKernel(ResizeAttrs a, const core::Attributes& attrs, bool blocked)
      : a_(std::move(a)), attrs_(attrs), blocked_(blocked) {}

  Status Compute(core::KernelContext& ctx) override {
    if (blocked_) return ComputeBlocked(ctx);
    const Tensor& in = ctx.input(0);
    ACCEL_RETURN_IF_ERROR(Replan(ctx, in.shape()));
    ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
    if (a_.mode == Mode::kNearest) return RunNearest(in, *out, a_, plan_, scratch_);
    if (in.dtype() == DType::kFloat64) {
      return RunInterpolate<double>(in, *out, a_, plan_, scratch_);
    }
    if (in.dtype() == DType::kBool) return Unsupported("linear/cubic resize of bool");
    return RunInterpolate<float>(in, *out, a_, plan_, scratch_);
  }

 private:
  // A plan depends on the input shape and on the values of roi, scales and sizes.
  struct ParamKey {
    bool present = false;
    DType dtype = DType::kUndefined;
    Shape shape;
    std::vector<uint8_t> bytes;
  };

  // Calls f(k, tensor or nullptr) for roi, scales and sizes.
  template <typename F>
  void ForEachParam(core::KernelContext& ctx, F&& f) const {
    const int inputs[3] = {a_.roi_input(), a_.scales_input(), a_.sizes_input()};
    for (size_t k = 0; k < 3; ++k) {
      const int i = inputs[k];
      const bool present = i >= 0 && static_cast<size_t>(i) < ctx.num_inputs() && ctx.has_input(i);
      f(k, present ? &ctx.input(i) : nullptr);
    }
  }

  bool SameParams(core::KernelContext& ctx) const {
    bool same = true;
    ForEachParam(ctx, [&](size_t k, const Tensor* t) {
      const ParamKey& key = params_[k];
      if (!same) return;
      if ((t != nullptr) != key.present) {
        same = false;
        return;
      }
      if (t == nullptr) return;
      same = t->dtype() == key.dtype && t->shape() == key.shape &&
             t->byte_size() == key.bytes.size() &&
             (key.bytes.empty() || std::memcmp(t->data(), key.bytes.data(), key.bytes.size()) == 0);
    });
    return same;
  }

  // Rebuilds the plan (and drops the scratch) when the shape or the parameters changed.
  Status Replan(core::KernelContext& ctx, const Shape& shape) {
    const DType dtype = ctx.input(0).dtype();
    if (planned_ && shape == plan_shape_ && dtype == plan_dtype_ && SameParams(ctx)) {
      return Status::Ok();
    }
    planned_ = false;
    scratch_ = ResizeScratch();
    ACCEL_ASSIGN_OR_RETURN(plan_, PlanFor(ctx, shape));
    plan_shape_ = shape;
    plan_dtype_ = dtype;
    ForEachParam(ctx, [&](size_t k, const Tensor* t) {
      ParamKey& key = params_[k];
      key = ParamKey();
      if (t == nullptr) return;
      key.present = true;
      key.dtype = t->dtype();
      key.shape = t->shape();
      const auto* bytes = static_cast<const uint8_t*>(t->data());
      key.bytes.assign(bytes, bytes + t->byte_size());
    });
    planned_ = true;
    return Status::Ok();
  }

  Result<Plan> PlanFor(core::KernelContext& ctx, const Shape& shape) const {
    bool known = false;
    ACCEL_ASSIGN_OR_RETURN(PlanInputs p, CollectInputs(
                                             a_, attrs_, ctx.num_inputs(),
                                             [&](int i, bool* present) -> const Tensor* {
                                               *present = ctx.has_input(i);
                                               return *present ? &ctx.input(i) : nullptr;
                                             },
                                             &known));
    return MakePlan(a_, shape, p);
  }

  // Channel-blocked input and output (the layout pass): a nearest resize of H and W only moves
  // whole channel blocks, so it runs on the physical [N, C/16, H, W, 16] data as it is; any
  // other case runs on plain copies.
  Status ComputeBlocked(core::KernelContext& ctx) {
    const Tensor& in = ctx.input(0);
    const Shape& xs = ctx.input_shape(0);
    ACCEL_RETURN_IF_ERROR(Replan(ctx, xs));
    const Plan& plan = plan_;
    ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
    if (a_.mode == Mode::kNearest && xs.size() == 4 && IsIdentity(a_, plan, 0, xs[0]) &&
        IsIdentity(a_, plan, 1, xs[1])) {
      if (!scratch_.valid) {
        scratch_.physical = plan;
        scratch_.physical.out_dims = out->shape();
        scratch_.physical.scales.push_back(1.0);
        scratch_.physical.roi_start.push_back(0.0);
        scratch_.physical.roi_end.push_back(1.0);
      }
      return RunNearest(in, *out, a_, scratch_.physical, scratch_);
    }
    if (!scratch_.valid) {
      ACCEL_ASSIGN_OR_RETURN(scratch_.x_plain, Tensor::Create(DType::kFloat32, xs));
      ACCEL_ASSIGN_OR_RETURN(scratch_.y_plain, Tensor::Create(DType::kFloat32, plan.out_dims));
    }
    Tensor& x_plain = scratch_.x_plain;
    Tensor& y_plain = scratch_.y_plain;
    ACCEL_RETURN_IF_ERROR(
        ConvertLayout(in, core::Layout::kBlocked, xs, x_plain, core::Layout::kPlain));
    ACCEL_RETURN_IF_ERROR(a_.mode == Mode::kNearest
                              ? RunNearest(x_plain, y_plain, a_, plan, scratch_)
                              : RunInterpolate<float>(x_plain, y_plain, a_, plan, scratch_));
    return ConvertLayout(y_plain, core::Layout::kPlain, plan.out_dims, *out,
                         core::Layout::kBlocked);
  }

  ResizeAttrs a_;
  const core::Attributes& attrs_;
  bool blocked_;
  // The plan for the last input shape and parameters, and what runs with it keep.
  bool planned_ = false;
  Shape plan_shape_;
  DType plan_dtype_ = DType::kUndefined;
  ParamKey params_[3];
  Plan plan_;
  ResizeScratch scratch_;
};

Result<std::unique_ptr<core::Kernel>> CreateResizeImpl(const core::KernelInit& init,
                                                       bool upsample) {
  ACCEL_ASSIGN_OR_RETURN(ResizeAttrs a, ParseAttrs(init.attrs, init.opset, upsample));
  const bool blocked = init.input_layouts[0] == core::Layout::kBlocked;
  if (blocked != (init.output_layouts[0] == core::Layout::kBlocked)) {
    return Internal("Resize between different layouts");
  }
  return dm::MakeKernel<ResizeKernel>(std::move(a), init.attrs, blocked);
}

Result<std::unique_ptr<core::Kernel>> CreateResize(const core::KernelInit& init) {
  return CreateResizeImpl(init, false);
}
Result<std::unique_ptr<core::Kernel>> CreateUpsample(const core::KernelInit& init) {
  return CreateResizeImpl(init, true);
}

}  // namespace

const core::OpDef& ResizeOpDef() {
  static const core::OpDef def{"Resize",    "",           {10, 11, 13, 18, 19},         10,
                               InferResize, CreateResize, core::LayoutSupport::kSpatial};
  return def;
}

const core::OpDef& UpsampleOpDef() {
  static const core::OpDef def{"Upsample",
                               "",
                               {1, 7, 9, 10},
                               7,
                               InferUpsample,
                               CreateUpsample,
                               core::LayoutSupport::kSpatial};
  return def;
}

}  // namespace accel::cpu
