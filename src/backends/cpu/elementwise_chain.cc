// accel.ElementwiseChain (core/fused_ops.h): a chain of float32 elementwise ops fused by the
// fuse_elementwise_chain pass. The data is cut into blocks of kBlock elements that stay in L1
// while each op of the chain runs over the block in turn, one simple loop per op (so each
// loop vectorizes), before the block is written out once.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/elementwise_util.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

constexpr int64_t kBlock = 256;

enum class Op : uint8_t {
  kNeg,
  kAbs,
  kRelu,
  kSigmoid,
  kTanh,
  kExp,
  kLog,
  kSqrt,
  kErf,
  kFloor,
  kCeil,
  kReciprocal,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kPow,
};

struct OpName {
  const char* name;
  Op op;
};

constexpr OpName kOps[] = {
    {"Neg", Op::kNeg},         {"Abs", Op::kAbs},   {"Relu", Op::kRelu},
    {"Sigmoid", Op::kSigmoid}, {"Tanh", Op::kTanh}, {"Exp", Op::kExp},
    {"Log", Op::kLog},         {"Sqrt", Op::kSqrt}, {"Erf", Op::kErf},
    {"Floor", Op::kFloor},     {"Ceil", Op::kCeil}, {"Reciprocal", Op::kReciprocal},
    {"Add", Op::kAdd},         {"Sub", Op::kSub},   {"Mul", Op::kMul},
    {"Div", Op::kDiv},         {"Pow", Op::kPow},
};

bool IsBinary(Op op) { return op >= Op::kAdd; }

struct Step {
  Op op;
  int operand;  // input slot of a tensor operand, or -1 for the scalar
  float scalar;
  bool operand_first;  // the operand is the left-hand side (Sub, Div, Pow)
};

// Applies one binary step to n elements: x = x op b, or b op x when `first`.
template <typename B>
[[gnu::always_inline]] inline void Binary(Op op, bool first, float* x, B b, int64_t n) {
  switch (op) {
    case Op::kAdd:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] + b(i);
      break;
    case Op::kMul:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] * b(i);
      break;
    case Op::kSub:
      if (first) {
        for (int64_t i = 0; i < n; ++i) x[i] = b(i) - x[i];
      } else {
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] - b(i);
      }
      break;
    case Op::kDiv:
      if (first) {
        for (int64_t i = 0; i < n; ++i) x[i] = b(i) / x[i];
      } else {
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] / b(i);
      }
      break;
    case Op::kPow:
      for (int64_t i = 0; i < n; ++i) x[i] = first ? std::pow(b(i), x[i]) : std::pow(x[i], b(i));
      break;
    default:
      break;
  }
}

[[gnu::always_inline]] inline void Unary(Op op, float* x, int64_t n) {
  switch (op) {
    case Op::kNeg:
      for (int64_t i = 0; i < n; ++i) x[i] = -x[i];
      break;
    case Op::kAbs:
      for (int64_t i = 0; i < n; ++i) x[i] = std::fabs(x[i]);
      break;
    case Op::kRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
      break;
    case Op::kSigmoid:
      for (int64_t i = 0; i < n; ++i) x[i] = 1.0f / (1.0f + ClampedExp(-x[i]));
      break;
    case Op::kTanh:
      for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      break;
    case Op::kExp:
      for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
      break;
    case Op::kLog:
      for (int64_t i = 0; i < n; ++i) x[i] = std::log(x[i]);
      break;
    case Op::kSqrt:
      for (int64_t i = 0; i < n; ++i) x[i] = std::sqrt(x[i]);
      break;
    case Op::kErf:
      for (int64_t i = 0; i < n; ++i) x[i] = std::erf(x[i]);
      break;
    case Op::kFloor:
      for (int64_t i = 0; i < n; ++i) x[i] = std::floor(x[i]);
      break;
    case Op::kCeil:
      for (int64_t i = 0; i < n; ++i) x[i] = std::ceil(x[i]);
      break;
    case Op::kReciprocal:
      for (int64_t i = 0; i < n; ++i) x[i] = 1.0f / x[i];
      break;
    default:
      break;
  }
}

// Runs the chain over elements [begin, end) of the output.
[[gnu::always_inline]] inline void RunRange(const std::vector<Step>& steps,
                                            const std::vector<const float*>& inputs, float* y,
                                            int64_t begin, int64_t end) {
  alignas(64) float buf[kBlock];
  for (int64_t start = begin; start < end; start += kBlock) {
    const int64_t n = std::min(kBlock, end - start);
    std::copy(inputs[0] + start, inputs[0] + start + n, buf);
    for (const Step& s : steps) {
      if (!IsBinary(s.op)) {
        Unary(s.op, buf, n);
      } else if (s.operand < 0) {
        const float c = s.scalar;
        Binary(
            s.op, s.operand_first, buf, [c](int64_t) { return c; }, n);
      } else {
        const float* b = inputs[s.operand] + start;
        Binary(
            s.op, s.operand_first, buf, [b](int64_t i) { return b[i]; }, n);
      }
    }
    std::copy(buf, buf + n, y + start);
  }
}

using RangeFn = void (*)(const std::vector<Step>&, const std::vector<const float*>&, float*,
                         int64_t, int64_t);

[[gnu::target("avx512f")]] void RangeAvx512(const std::vector<Step>& s,
                                            const std::vector<const float*>& in, float* y,
                                            int64_t b, int64_t e) {
  RunRange(s, in, y, b, e);
}
[[gnu::target("avx2,fma")]] void RangeAvx2(const std::vector<Step>& s,
                                           const std::vector<const float*>& in, float* y, int64_t b,
                                           int64_t e) {
  RunRange(s, in, y, b, e);
}
void RangeBaseline(const std::vector<Step>& s, const std::vector<const float*>& in, float* y,
                   int64_t b, int64_t e) {
  RunRange(s, in, y, b, e);
}

RangeFn PickRange() {
  if (__builtin_cpu_supports("avx512f")) return &RangeAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &RangeAvx2;
  return &RangeBaseline;
}

Result<std::vector<Step>> ReadSteps(const core::Attributes& attrs, size_t num_inputs) {
  ACCEL_ASSIGN_OR_RETURN(std::vector<std::string> ops, attrs.GetStrings("ops"));
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> operand, attrs.GetInts("operand"));
  ACCEL_ASSIGN_OR_RETURN(std::vector<float> scalars, attrs.GetFloats("scalars"));
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> first, attrs.GetInts("operand_first"));
  if (ops.empty() || operand.size() != ops.size() || scalars.size() != ops.size() ||
      first.size() != ops.size()) {
    return InvalidModel(
        "attributes ops, operand, scalars and operand_first must be non-empty "
        "and of one length");
  }
  std::vector<Step> steps;
  for (size_t i = 0; i < ops.size(); ++i) {
    const OpName* found = nullptr;
    for (const OpName& o : kOps) {
      if (ops[i] == o.name) found = &o;
    }
    if (!found) return InvalidModel("unknown chain op '" + ops[i] + "'");
    if (operand[i] != -1 && (operand[i] < 1 || operand[i] >= static_cast<int64_t>(num_inputs))) {
      return InvalidModel("chain operand " + std::to_string(operand[i]) + " is not an input");
    }
    steps.push_back({found->op, static_cast<int>(operand[i]), scalars[i], first[i] != 0});
  }
  return steps;
}

Status InferChain(core::InferContext& ctx) {
  ACCEL_RETURN_IF_ERROR(ReadSteps(ctx.attrs(), ctx.num_inputs()).status());
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return InvalidModel("missing input " + std::to_string(i));
    if (ctx.input_type(i).dtype != DType::kFloat32) {
      return UnsupportedDType(ctx.input_type(i).dtype);
    }
  }
  ctx.set_output(0, ctx.input_type(0));
  return Status::Ok();
}

class ChainKernel final : public core::Kernel {
 public:
  explicit ChainKernel(std::vector<Step> steps) : steps_(std::move(steps)) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    std::vector<const float*>& inputs = inputs_;
    inputs.clear();
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor& t = ctx.input(i);
      if (t.dtype() != DType::kFloat32) return UnsupportedDType(t.dtype());
      // The pass only fuses operands of the chain's exact shape.
      if (t.shape() != x.shape()) {
        return InvalidArgument("chain operand " + std::to_string(i) + " shape " +
                               ShapeToString(t.shape()) + " differs from " +
                               ShapeToString(x.shape()));
      }
      inputs.push_back(t.data_as<float>());
    }
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    const int64_t n = x.element_count();
    if (n == 0) return Status::Ok();
    static const RangeFn range = PickRange();
    float* out = y->data_as<float>();
    const int64_t chunks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n >= kParallelMinElements)
    for (int64_t c = 0; c < chunks; ++c) {
      range(steps_, inputs, out, c * kBlock, std::min(n, (c + 1) * kBlock));
    }
    return Status::Ok();
  }

 private:
  std::vector<Step> steps_;
  std::vector<const float*> inputs_;  // this run's operands, kept so that runs reuse its capacity
};

Result<std::unique_ptr<core::Kernel>> CreateChain(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(std::vector<Step> steps, ReadSteps(init.attrs, init.input_types.size()));
  for (size_t i = 0; i < init.input_types.size(); ++i) {
    if (!init.has_input(i)) return InvalidModel("missing input " + std::to_string(i));
    if (init.input_types[i]->dtype != DType::kFloat32) {
      return UnsupportedDType(init.input_types[i]->dtype);
    }
  }
  return std::unique_ptr<core::Kernel>(std::make_unique<ChainKernel>(std::move(steps)));
}

}  // namespace

const core::OpDef& AccelElementwiseChainOpDef() {
  static const core::OpDef def{"ElementwiseChain", "accel", {1}, 1, InferChain, CreateChain};
  return def;
}

}  // namespace accel::cpu
