// Binary and variadic elementwise ops with numpy broadcasting, plus Where, PRelu and Clip.
//
// Each op is one table line: its dtypes and a scalar expression of a and b. The broadcast plan
// (elementwise_util.h) turns every case into rows whose inner loops are same-shape,
// tensor-scalar or scalar-tensor, so the common float32 paths vectorize.
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>

#include "backends/cpu/elementwise_util.h"
#include "core/op_def.h"
#include "core/shape_utils.h"

namespace accel::cpu {

namespace {

struct BinaryParams {
  int64_t mode = 0;  // Mod: fmod; BitShift: 1 = left, 0 = right
};

// Integer arithmetic wraps (two's complement) instead of overflowing into undefined behaviour.
template <typename T>
struct Wrap {
  using type = T;
};
template <typename T>
requires std::is_integral_v<T> &&(!std::is_same_v<T, bool>)struct Wrap<T> {
  using type = std::make_unsigned_t<T>;
};
template <typename T>
using WrapType = typename Wrap<T>::type;

template <typename T>
T WrapAdd(T a, T b) {
  return static_cast<T>(static_cast<WrapType<T>>(a) + static_cast<WrapType<T>>(b));
}
template <typename T>
T WrapSub(T a, T b) {
  return static_cast<T>(static_cast<WrapType<T>>(a) - static_cast<WrapType<T>>(b));
}
template <typename T>
T WrapMul(T a, T b) {
  if constexpr (std::is_integral_v<T> && sizeof(T) < sizeof(int)) {
    return static_cast<T>(static_cast<unsigned>(a) * static_cast<unsigned>(b));
  } else {
    return static_cast<T>(static_cast<WrapType<T>>(a) * static_cast<WrapType<T>>(b));
  }
}

// Integer division by zero yields 0 rather than trapping; MIN / -1 wraps.
template <typename T>
T DivOf(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return WrapSub(T(0), a);
    }
  }
  return static_cast<T>(a / b);
}

template <typename T>
T ModOf(T a, T b, bool fmod) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return 0;
      T r = static_cast<T>(a % b);
      if (!fmod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
      return r;
    } else {
      return static_cast<T>(a % b);
    }
  } else {
    T r = std::fmod(a, b);
    if (fmod) return r;
    if (r == 0) return std::copysign(T(0), b);  // floor-mod zero takes the divisor's sign
    return (r < 0) != (b < 0) ? r + b : r;
  }
}

template <typename T>
T ShiftOf(T a, T b, bool left) {
  using U = std::make_unsigned_t<T>;
  constexpr int kBits = sizeof(T) * 8;
  if constexpr (std::is_signed_v<T>) {
    if (b < 0 || b >= kBits) return !left && a < 0 ? T(-1) : T(0);
  } else {
    if (b >= static_cast<T>(kBits)) return 0;
  }
  if (left) return static_cast<T>(static_cast<U>(static_cast<U>(a) << b));
  return static_cast<T>(a >> b);  // arithmetic for signed T (C++20)
}

template <typename T>
T PowOf(T a, T b) {
  if constexpr (std::is_same_v<T, float>) {
    return std::pow(a, b);
  } else {
    return static_cast<T>(std::pow(static_cast<double>(a), static_cast<double>(b)));
  }
}

template <typename T>
T MaxOf(T a, T b) {
  return b > a ? b : a;
}
template <typename T>
T MinOf(T a, T b) {
  return b < a ? b : a;
}

// b_shape is b's shape, or the shape legacy broadcasting placed it at (PlaceB).
using BinaryFn = void (*)(const Tensor& a, const Tensor& b, std::span<const int64_t> b_shape,
                          Tensor& out, const BinaryParams& p);

// Broadcasting before opset 7: only B broadcasts onto A, and only with broadcast = 1, its dims
// aligned at `axis` (default: A's trailing dims). PRelu before 7 applies a [C] slope to axis 1.
struct LegacyBroadcast {
  enum class Mode { kNone, kAxis, kChannel };
  Mode mode = Mode::kNone;
  bool broadcast = false;
  bool has_axis = false;
  int64_t axis = 0;
};

Result<LegacyBroadcast> ReadLegacy(const core::Attributes& attrs, int opset, bool prelu) {
  LegacyBroadcast l;
  if (opset >= 7) return l;
  if (prelu) {
    l.mode = LegacyBroadcast::Mode::kChannel;
    return l;
  }
  l.mode = LegacyBroadcast::Mode::kAxis;
  ACCEL_ASSIGN_OR_RETURN(int64_t broadcast, attrs.GetInt("broadcast", 0));
  l.broadcast = broadcast != 0;
  l.has_axis = attrs.Has("axis");
  ACCEL_ASSIGN_OR_RETURN(l.axis, attrs.GetInt("axis", 0));
  return l;
}

// B's dims placed within A's rank by the legacy rule (unchanged from opset 7 on), written into
// `placed` (reused by kernels across runs, so steady runs do not allocate).
Status PlaceB(const LegacyBroadcast& l, std::span<const int64_t> a, std::span<const int64_t> b,
              Shape& placed) {
  placed.assign(b.begin(), b.end());
  if (l.mode == LegacyBroadcast::Mode::kNone || ElementCount(b) == 1) return Status::Ok();
  const int64_t rank = static_cast<int64_t>(a.size());
  if (l.mode == LegacyBroadcast::Mode::kChannel) {
    if (b.size() != 1 || rank < 2) return Status::Ok();
    placed.assign(static_cast<size_t>(rank - 1), 1);
    placed[0] = b[0];
    return Status::Ok();
  }
  if (!l.broadcast) return Status::Ok();
  const int64_t rank_b = static_cast<int64_t>(b.size());
  int64_t start = rank - rank_b;
  if (l.has_axis) {
    ACCEL_ASSIGN_OR_RETURN(start, core::NormalizeAxis(l.axis, rank));
  }
  if (rank_b > rank || start < 0 || start + rank_b > rank) {
    return InvalidModel("B " + ShapeToString(b) + " cannot be broadcast onto A " +
                        ShapeToString(a) + " at axis " + std::to_string(start));
  }
  placed.assign(static_cast<size_t>(rank), 1);
  std::copy(b.begin(), b.end(), placed.begin() + start);
  return Status::Ok();
}

// The legacy shape rule: the output has A's type, and the placed B must broadcast onto A.
Status InferLegacy(core::InferContext& ctx, DType out_dtype, bool prelu) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return InvalidModel("expects 2 inputs");
  const core::TensorType& a = ctx.input_type(0);
  const core::TensorType& b = ctx.input_type(1);
  ACCEL_ASSIGN_OR_RETURN(LegacyBroadcast l, ReadLegacy(ctx.attrs(), ctx.opset(), prelu));
  if (a.has_shape && b.has_shape) {
    Shape placed;
    ACCEL_RETURN_IF_ERROR(PlaceB(l, a.dims, b.dims, placed));
    ACCEL_ASSIGN_OR_RETURN(Shape out, core::BroadcastShapes(a.dims, placed));
    for (size_t i = 0; i < out.size(); ++i) {
      if (out.size() != a.dims.size() || (a.dims[i] >= 0 && out[i] != a.dims[i])) {
        return InvalidModel("B " + b.ToString() + " does not broadcast onto A " + a.ToString());
      }
    }
  }
  core::TensorType out = a;
  if (out_dtype != DType::kUndefined) out.dtype = out_dtype;
  ctx.set_output(0, std::move(out));
  return Status::Ok();
}

// out = op(a, b) with a and b broadcast to out's shape. out may alias a when shapes match.
template <typename Op, typename T>
void BinaryLoop(const Tensor& a, const Tensor& b, std::span<const int64_t> b_shape, Tensor& out,
                const BinaryParams& p) {
  using Out = typename Op::template Out<T>;
  const BroadcastPlan<2> plan = MakeBroadcastPlan<2>(out.shape(), {a.shape(), b_shape});
  const T* x = a.data_as<T>();
  const T* y = b.data_as<T>();
  Out* z = out.data_as<Out>();
  const bool vx = plan.strides.back()[0] != 0;
  const bool vy = plan.strides.back()[1] != 0;
  ForEachRun(plan, [&](const std::array<int64_t, 2>& off, int64_t o, int64_t n) {
    const T* xs = x + off[0];
    const T* ys = y + off[1];
    Out* zs = z + o;
    if (vx && vy) {
      for (int64_t i = 0; i < n; ++i) zs[i] = Op::Apply(xs[i], ys[i], p);
    } else if (vx) {
      const T s = ys[0];
      for (int64_t i = 0; i < n; ++i) zs[i] = Op::Apply(xs[i], s, p);
    } else if (vy) {
      const T s = xs[0];
      for (int64_t i = 0; i < n; ++i) zs[i] = Op::Apply(s, ys[i], p);
    } else {
      std::fill_n(zs, n, Op::Apply(xs[0], ys[0], p));
    }
  });
}

Status InferBroadcast(core::InferContext& ctx, DType out_dtype) {
  std::vector<const core::TensorType*> inputs;
  DType dtype = DType::kUndefined;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return InvalidModel("input " + std::to_string(i) + " is missing");
    const core::TensorType& t = ctx.input_type(i);
    if (dtype != DType::kUndefined && t.dtype != DType::kUndefined && t.dtype != dtype) {
      return InvalidModel(std::string("inputs have different dtypes: ") + DTypeName(dtype) +
                          " and " + DTypeName(t.dtype));
    }
    if (t.dtype != DType::kUndefined) dtype = t.dtype;
    inputs.push_back(&t);
  }
  if (inputs.empty()) return InvalidModel("needs at least one input");
  ACCEL_ASSIGN_OR_RETURN(
      core::TensorType out,
      core::BroadcastTypes(out_dtype == DType::kUndefined ? dtype : out_dtype, inputs));
  ctx.set_output(0, std::move(out));
  return Status::Ok();
}

template <typename Op>
Status InferBinary(core::InferContext& ctx) {
  const DType out_dtype = Op::kBoolOut ? DType::kBool : DType::kUndefined;
  if (Op::kLegacyBroadcast && ctx.opset() < 7) return InferLegacy(ctx, out_dtype, false);
  return InferBroadcast(ctx, out_dtype);
}

// Folds the inputs left to right into the output; Mean divides at the end.
class VariadicKernel final : public core::Kernel {
 public:
  VariadicKernel(BinaryFn fn, BinaryParams params, bool mean, LegacyBroadcast legacy = {})
      : fn_(fn), params_(params), mean_(mean), legacy_(legacy) {}

  Status Compute(core::KernelContext& ctx) override {
    const size_t n = ctx.num_inputs();
    if (n == 1) return ctx.SetOutput(0, ctx.input(0));
    ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
    if (out->element_count() == 0) return Status::Ok();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    ACCEL_RETURN_IF_ERROR(PlaceB(legacy_, a.shape(), b.shape(), placed_));
    if (ElementCount(placed_) != b.element_count()) return Internal("B was misplaced");
    fn_(a, b, placed_, *out, params_);
    for (size_t i = 2; i < n; ++i) fn_(*out, ctx.input(i), ctx.input(i).shape(), *out, params_);
    if (mean_) {
      const int64_t count = out->element_count();
      if (out->dtype() == DType::kFloat32) {
        const float scale = 1.0f / static_cast<float>(n);
        float* z = out->data_as<float>();
        for (int64_t i = 0; i < count; ++i) z[i] *= scale;
      } else {
        double* z = out->data_as<double>();
        for (int64_t i = 0; i < count; ++i) z[i] /= static_cast<double>(n);
      }
    }
    return Status::Ok();
  }

 private:
  BinaryFn fn_;
  BinaryParams params_;
  bool mean_;
  LegacyBroadcast legacy_;
  Shape placed_;  // B's placed shape, kept so that steady runs reuse its capacity
};

Result<BinaryParams> ReadBinaryParams(const core::KernelInit& init) {
  BinaryParams p;
  if (init.node.op_type == "Mod") {
    ACCEL_ASSIGN_OR_RETURN(p.mode, init.attrs.GetInt("fmod", 0));
    if (p.mode != 0 && p.mode != 1) return InvalidModel("attribute 'fmod' must be 0 or 1");
  } else if (init.node.op_type == "BitShift") {
    ACCEL_ASSIGN_OR_RETURN(std::string dir, init.attrs.GetString("direction", ""));
    if (dir != "LEFT" && dir != "RIGHT") {
      return InvalidModel("attribute 'direction' must be \"LEFT\" or \"RIGHT\", got \"" + dir +
                          "\"");
    }
    p.mode = dir == "LEFT";
  }
  return p;
}

Status CheckSameDTypes(const core::KernelInit& init) {
  DType dtype = DType::kUndefined;
  for (size_t i = 0; i < init.input_types.size(); ++i) {
    if (!init.has_input(i)) return InvalidModel("input " + std::to_string(i) + " is missing");
    DType d = init.input_types[i]->dtype;
    if (dtype != DType::kUndefined && d != dtype) {
      return InvalidModel(std::string("inputs have different dtypes: ") + DTypeName(dtype) +
                          " and " + DTypeName(d));
    }
    dtype = d;
  }
  if (dtype == DType::kUndefined) return InvalidModel("needs at least one input");
  return Status::Ok();
}

template <typename Op>
Result<std::unique_ptr<core::Kernel>> CreateBinary(const core::KernelInit& init) {
  ACCEL_RETURN_IF_ERROR(CheckSameDTypes(init));
  if (Op::kMaxInputs == 2 && init.input_types.size() != 2) {
    return InvalidModel("expects 2 inputs, got " + std::to_string(init.input_types.size()));
  }
  ACCEL_ASSIGN_OR_RETURN(BinaryParams params, ReadBinaryParams(init));
  const DType dtype = init.input_types[0]->dtype;
  BinaryFn fn = nullptr;
  VisitDType(typename Op::Types{}, dtype,
             [&](auto tag) { fn = &BinaryLoop<Op, typename decltype(tag)::type>; });
  if (!fn) return UnsupportedDType(dtype);
  LegacyBroadcast legacy;
  if (Op::kLegacyBroadcast) {
    ACCEL_ASSIGN_OR_RETURN(legacy, ReadLegacy(init.attrs, init.opset, false));
  }
  return std::unique_ptr<core::Kernel>(
      std::make_unique<VariadicKernel>(fn, params, init.node.op_type == "Mean", legacy));
}

// Defines <Name>Op and <Name>OpDef(). The expression sees a and b (of type T) and params p.
#define ACCEL_BINARY(Name, Versions, MinVersion, TypeSet, BoolOut, MaxInputs, ...) \
  struct Name##Op {                                                                \
    using Types = TypeSet;                                                         \
    static constexpr bool kBoolOut = BoolOut;                                      \
    static constexpr size_t kMaxInputs = MaxInputs;                                \
    static constexpr bool kLegacyBroadcast = MinVersion < 7 && MaxInputs == 2;     \
    template <typename T>                                                          \
    using Out = std::conditional_t<kBoolOut, bool, T>;                             \
    template <typename T>                                                          \
    static Out<T> Apply(T a, T b, [[maybe_unused]] const BinaryParams& p) {        \
      return static_cast<Out<T>>(__VA_ARGS__);                                     \
    }                                                                              \
  };                                                                               \
  ACCEL_ELEMENTWISE_OPDEF(Name, Versions, MinVersion, InferBinary, CreateBinary)

constexpr bool kSame = false;
constexpr bool kBool = true;
constexpr size_t kTwo = 2;
constexpr size_t kMany = 0;
using EqualTypes = TypeList<float, double, int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t,
                            int64_t, uint64_t, bool>;

// clang-format off
//           name            versions            min types         out    inputs  z = f(a, b)
ACCEL_BINARY(Add,            (1, 6, 7, 13, 14),  1,  NumericTypes, kSame, kTwo,  WrapAdd(a, b))
ACCEL_BINARY(Sub,            (1, 6, 7, 13, 14),  1,  NumericTypes, kSame, kTwo,  WrapSub(a, b))
ACCEL_BINARY(Mul,            (1, 6, 7, 13, 14),  1,  NumericTypes, kSame, kTwo,  WrapMul(a, b))
ACCEL_BINARY(Div,            (1, 6, 7, 13, 14),  1,  NumericTypes, kSame, kTwo,  DivOf(a, b))
ACCEL_BINARY(Mod,            (10, 13, 28),       10, NumericTypes, kSame, kTwo,  ModOf(a, b, p.mode != 0))
ACCEL_BINARY(Max,            (1, 6, 8, 12, 13),  1,  NumericTypes, kSame, kMany, MaxOf(a, b))
ACCEL_BINARY(Min,            (1, 6, 8, 12, 13),  1,  NumericTypes, kSame, kMany, MinOf(a, b))
ACCEL_BINARY(Sum,            (1, 6, 8, 13),      1,  FloatTypes,   kSame, kMany, a + b)
ACCEL_BINARY(Mean,           (1, 6, 8, 13),      1,  FloatTypes,   kSame, kMany, a + b)
ACCEL_BINARY(Equal,          (1, 7, 11, 13, 19), 1,  EqualTypes,   kBool, kTwo,  a == b)
ACCEL_BINARY(Less,           (1, 7, 9, 13),      1,  NumericTypes, kBool, kTwo,  a < b)
ACCEL_BINARY(Greater,        (1, 7, 9, 13),      1,  NumericTypes, kBool, kTwo,  a > b)
ACCEL_BINARY(LessOrEqual,    (12, 16),           12, NumericTypes, kBool, kTwo,  a <= b)
ACCEL_BINARY(GreaterOrEqual, (12, 16),           12, NumericTypes, kBool, kTwo,  a >= b)
ACCEL_BINARY(And,            (1, 7),             1,  BoolTypes,    kSame, kTwo,  a && b)
ACCEL_BINARY(Or,             (1, 7),             1,  BoolTypes,    kSame, kTwo,  a || b)
ACCEL_BINARY(Xor,            (1, 7),             1,  BoolTypes,    kSame, kTwo,  a != b)
ACCEL_BINARY(BitShift,       (11, 28),           11, IntegerTypes, kSame, kTwo,  ShiftOf(a, b, p.mode != 0))
// clang-format on

// ---- Pow: the exponent may have another dtype than the base (opset 12+).

template <typename TA, typename TB>
void PowLoop(const Tensor& a, const Tensor& b, std::span<const int64_t> b_shape, Tensor& out) {
  const BroadcastPlan<2> plan = MakeBroadcastPlan<2>(out.shape(), {a.shape(), b_shape});
  const TA* x = a.data_as<TA>();
  const TB* y = b.data_as<TB>();
  TA* z = out.data_as<TA>();
  const int64_t sx = plan.strides.back()[0];
  const int64_t sy = plan.strides.back()[1];
  ForEachRun(plan, [&](const std::array<int64_t, 2>& off, int64_t o, int64_t n) {
    const TA* xs = x + off[0];
    const TB* ys = y + off[1];
    TA* zs = z + o;
    if constexpr (std::is_same_v<TA, TB>) {
      if (sx && sy) {
        for (int64_t i = 0; i < n; ++i) zs[i] = PowOf(xs[i], ys[i]);
        return;
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      zs[i] = static_cast<TA>(
          std::pow(static_cast<double>(xs[i * sx]), static_cast<double>(ys[i * sy])));
    }
  });
}

using PowTypes = TypeList<float, double, int32_t, int64_t>;
using PowFn = void (*)(const Tensor& a, const Tensor& b, std::span<const int64_t> b_shape,
                       Tensor& out);

class PowKernel final : public core::Kernel {
 public:
  PowKernel(PowFn fn, LegacyBroadcast legacy) : fn_(fn), legacy_(legacy) {}
  Status Compute(core::KernelContext& ctx) override {
    ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
    if (out->element_count() == 0) return Status::Ok();
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    ACCEL_RETURN_IF_ERROR(PlaceB(legacy_, a.shape(), b.shape(), placed_));
    if (ElementCount(placed_) != b.element_count()) return Internal("B was misplaced");
    fn_(a, b, placed_, *out);
    return Status::Ok();
  }

 private:
  PowFn fn_;
  LegacyBroadcast legacy_;
  Shape placed_;  // as in VariadicKernel
};

Status InferPow(core::InferContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return InvalidModel("expects 2 inputs");
  if (ctx.opset() < 7) return InferLegacy(ctx, DType::kUndefined, false);
  const core::TensorType* inputs[] = {&ctx.input_type(0), &ctx.input_type(1)};
  ACCEL_ASSIGN_OR_RETURN(core::TensorType out,
                         core::BroadcastTypes(ctx.input_type(0).dtype, inputs));
  ctx.set_output(0, std::move(out));
  return Status::Ok();
}

Result<std::unique_ptr<core::Kernel>> CreatePow(const core::KernelInit& init) {
  if (!init.has_input(0) || !init.has_input(1)) return InvalidModel("expects 2 inputs");
  const DType base = init.input_types[0]->dtype;
  const DType exponent = init.input_types[1]->dtype;
  PowFn fn = nullptr;
  VisitDType(PowTypes{}, base, [&](auto ta) {
    VisitDType(NumericTypes{}, exponent, [&](auto tb) {
      fn = &PowLoop<typename decltype(ta)::type, typename decltype(tb)::type>;
    });
  });
  if (!fn) {
    return Unsupported(std::string("Pow of ") + DTypeName(base) + " by " + DTypeName(exponent) +
                       " is not supported");
  }
  ACCEL_ASSIGN_OR_RETURN(LegacyBroadcast legacy, ReadLegacy(init.attrs, init.opset, false));
  return std::unique_ptr<core::Kernel>(std::make_unique<PowKernel>(fn, legacy));
}

// ---- PRelu: slope broadcasts to X (unidirectionally).

struct PReluOp {
  template <typename T>
  using Out = T;
  template <typename T>
  static T Apply(T x, T slope, const BinaryParams&) {
    return x < T(0) ? static_cast<T>(slope * x) : x;
  }
};

Status InferPRelu(core::InferContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return InvalidModel("expects 2 inputs");
  if (ctx.opset() < 7) return InferLegacy(ctx, DType::kUndefined, true);
  const core::TensorType& x = ctx.input_type(0);
  const core::TensorType& slope = ctx.input_type(1);
  if (x.has_shape && slope.has_shape) {
    if (slope.rank() > x.rank()) {
      return InvalidModel("slope " + slope.ToString() + " does not broadcast to X " + x.ToString());
    }
    ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, core::BroadcastShapes(x.dims, slope.dims));
    for (size_t i = 0; i < dims.size(); ++i) {
      if (x.dims[i] >= 0 && dims[i] != x.dims[i]) {
        return InvalidModel("slope " + slope.ToString() + " does not broadcast to X " +
                            x.ToString());
      }
    }
  }
  ctx.set_output(0, x);
  return Status::Ok();
}

Result<std::unique_ptr<core::Kernel>> CreatePRelu(const core::KernelInit& init) {
  ACCEL_RETURN_IF_ERROR(CheckSameDTypes(init));
  const DType dtype = init.input_types[0]->dtype;
  BinaryFn fn = nullptr;
  VisitDType(SignedTypes{}, dtype,
             [&](auto tag) { fn = &BinaryLoop<PReluOp, typename decltype(tag)::type>; });
  if (!fn) return UnsupportedDType(dtype);
  ACCEL_ASSIGN_OR_RETURN(LegacyBroadcast legacy, ReadLegacy(init.attrs, init.opset, true));
  return std::unique_ptr<core::Kernel>(
      std::make_unique<VariadicKernel>(fn, BinaryParams{}, false, legacy));
}

// ---- Where: works on any dtype by copying elements of the right width.

template <typename T>
void WhereLoop(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  const BroadcastPlan<3> plan =
      MakeBroadcastPlan<3>(out.shape(), {cond.shape(), a.shape(), b.shape()});
  const bool* c = cond.data_as<bool>();
  const T* x = static_cast<const T*>(a.data());
  const T* y = static_cast<const T*>(b.data());
  T* z = static_cast<T*>(out.data());
  const std::array<int64_t, 3> s = plan.strides.back();
  ForEachRun(plan, [&](const std::array<int64_t, 3>& off, int64_t o, int64_t n) {
    const bool* cs = c + off[0];
    const T* xs = x + off[1];
    const T* ys = y + off[2];
    T* zs = z + o;
    for (int64_t i = 0; i < n; ++i) zs[i] = cs[i * s[0]] ? xs[i * s[1]] : ys[i * s[2]];
  });
}

class WhereKernel final : public core::Kernel {
 public:
  Status Compute(core::KernelContext& ctx) override {
    ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
    if (out->element_count() == 0) return Status::Ok();
    const Tensor& c = ctx.input(0);
    const Tensor& a = ctx.input(1);
    const Tensor& b = ctx.input(2);
    switch (DTypeSize(out->dtype())) {
      case 1:
        WhereLoop<uint8_t>(c, a, b, *out);
        break;
      case 2:
        WhereLoop<uint16_t>(c, a, b, *out);
        break;
      case 4:
        WhereLoop<uint32_t>(c, a, b, *out);
        break;
      case 8:
        WhereLoop<uint64_t>(c, a, b, *out);
        break;
      default:
        return UnsupportedDType(out->dtype());
    }
    return Status::Ok();
  }
};

Status InferWhere(core::InferContext& ctx) {
  for (size_t i = 0; i < 3; ++i) {
    if (!ctx.has_input(i)) return InvalidModel("expects 3 inputs");
  }
  const DType c = ctx.input_type(0).dtype;
  const DType x = ctx.input_type(1).dtype;
  const DType y = ctx.input_type(2).dtype;
  if (c != DType::kBool && c != DType::kUndefined) {
    return InvalidModel(std::string("condition must be bool, got ") + DTypeName(c));
  }
  if (x != y && x != DType::kUndefined && y != DType::kUndefined) {
    return InvalidModel(std::string("X and Y have different dtypes: ") + DTypeName(x) + " and " +
                        DTypeName(y));
  }
  const core::TensorType* inputs[] = {&ctx.input_type(0), &ctx.input_type(1), &ctx.input_type(2)};
  ACCEL_ASSIGN_OR_RETURN(core::TensorType out, core::BroadcastTypes(x, inputs));
  ctx.set_output(0, std::move(out));
  return Status::Ok();
}

Result<std::unique_ptr<core::Kernel>> CreateWhere(const core::KernelInit& init) {
  if (init.input_types.size() != 3 || !init.has_input(0) || !init.has_input(1) ||
      !init.has_input(2)) {
    return InvalidModel("expects 3 inputs");
  }
  if (init.input_types[0]->dtype != DType::kBool) return InvalidModel("condition must be bool");
  return std::unique_ptr<core::Kernel>(std::make_unique<WhereKernel>());
}

// ---- Clip: bounds are attributes before opset 11 and optional scalar inputs from 11 on.

template <typename T>
Status ClipLoop(core::KernelContext& ctx, bool bounds_from_inputs, float attr_min, float attr_max) {
  T lo = std::numeric_limits<T>::lowest();
  T hi = std::numeric_limits<T>::max();
  if (bounds_from_inputs) {
    for (size_t i = 1; i <= 2; ++i) {
      if (!ctx.has_input(i)) continue;
      const Tensor& t = ctx.input(i);
      if (t.dtype() != DTypeOf<T>()) return InvalidModel("min/max must have the input's dtype");
      if (t.element_count() != 1) {
        return InvalidArgument("min/max must be scalars, got shape " + ShapeToString(t.shape()));
      }
      (i == 1 ? lo : hi) = *t.data_as<T>();
    }
  } else {
    lo = static_cast<T>(attr_min);
    hi = static_cast<T>(attr_max);
  }
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  const T* x = ctx.input(0).data_as<T>();
  T* y = out->data_as<T>();
  const int64_t n = out->element_count();
#pragma omp parallel for schedule(static) if (n >= kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) y[i] = MinOf(MaxOf(x[i], lo), hi);
  return Status::Ok();
}

using ClipFn = Status (*)(core::KernelContext&, bool, float, float);

class ClipKernel final : public core::Kernel {
 public:
  ClipKernel(ClipFn fn, bool from_inputs, float lo, float hi)
      : fn_(fn), from_inputs_(from_inputs), lo_(lo), hi_(hi) {}
  Status Compute(core::KernelContext& ctx) override { return fn_(ctx, from_inputs_, lo_, hi_); }

 private:
  ClipFn fn_;
  bool from_inputs_;
  float lo_;
  float hi_;
};

Status InferClip(core::InferContext& ctx) {
  if (!ctx.has_input(0)) return InvalidModel("missing input 0");
  ctx.set_output(0, ctx.input_type(0));
  return Status::Ok();
}

Result<std::unique_ptr<core::Kernel>> CreateClip(const core::KernelInit& init) {
  if (!init.has_input(0)) return InvalidModel("missing input 0");
  const bool from_inputs = init.opset >= 11;
  ACCEL_ASSIGN_OR_RETURN(float lo,
                         init.attrs.GetFloat("min", std::numeric_limits<float>::lowest()));
  ACCEL_ASSIGN_OR_RETURN(float hi, init.attrs.GetFloat("max", std::numeric_limits<float>::max()));
  const DType dtype = init.input_types[0]->dtype;
  ClipFn fn = nullptr;
  VisitDType(NumericTypes{}, dtype,
             [&](auto tag) { fn = &ClipLoop<typename decltype(tag)::type>; });
  if (!fn) return UnsupportedDType(dtype);
  return std::unique_ptr<core::Kernel>(std::make_unique<ClipKernel>(fn, from_inputs, lo, hi));
}

}  // namespace

const core::OpDef& PowOpDef() {
  static const core::OpDef def{"Pow", "", {1, 7, 12, 13, 15}, 1, InferPow, CreatePow};
  return def;
}

const core::OpDef& PReluOpDef() {
  static const core::OpDef def{"PRelu", "", {1, 6, 7, 9, 16}, 1, InferPRelu, CreatePRelu};
  return def;
}

const core::OpDef& WhereOpDef() {
  static const core::OpDef def{"Where", "", {9, 16}, 9, InferWhere, CreateWhere};
  return def;
}

const core::OpDef& ClipOpDef() {
  static const core::OpDef def{
      "Clip", "", {1, 6, 11, 12, 13}, 1, InferClip, CreateClip, core::LayoutSupport::kElementwise};
  return def;
}

}  // namespace accel::cpu
