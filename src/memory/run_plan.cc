#include "memory/run_plan.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "core/fused_ops.h"
#include "core/infer_context.h"
#include "core/layout.h"
#include "core/node_eval.h"
#include "core/tensor_access.h"

namespace accel::memory {

namespace {

using core::Graph;
using core::kNoValue;
using core::Layout;
using core::Node;

bool IsOneOf(std::string_view op, std::initializer_list<std::string_view> names) {
  return std::ranges::find(names, op) != names.end();
}

// Ops whose output is input 0's bytes under another shape.
bool IsViewOp(const Node& node) {
  return node.domain.empty() &&
         IsOneOf(node.op_type, {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"});
}

// Binary elementwise ops: their kernels read element i of a full-shape input before writing
// element i, so with two inputs either one may be overwritten: input 1 when input 0 is the
// broadcast one (a squeeze-excitation Mul(scale, x)).
bool IsBinaryElementwiseOp(std::string_view op) {
  return IsOneOf(op, {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean"});
}

// Ops whose kernels compute output element i from element i of input 0 (other inputs only
// broadcast), so the output may overwrite input 0.
bool IsInplaceOp(const Node& node) {
  if (!node.domain.empty()) return false;
  if (IsBinaryElementwiseOp(node.op_type)) return true;
  // Unary ops; Clip's min and max are scalars.
  return IsOneOf(node.op_type, {"Abs",
                                "Neg",
                                "Exp",
                                "Log",
                                "Sqrt",
                                "Reciprocal",
                                "Floor",
                                "Ceil",
                                "Round",
                                "Sign",
                                "Erf",
                                "Tanh",
                                "Sigmoid",
                                "Relu",
                                "LeakyRelu",
                                "Elu",
                                "Selu",
                                "Celu",
                                "HardSigmoid",
                                "HardSwish",
                                "Softplus",
                                "Softsign",
                                "ThresholdedRelu",
                                "Mish",
                                "Gelu",
                                "Sin",
                                "Cos",
                                "Clip"});
}

// The inputs whose bytes output 0 may take over when that input dies at the node, in order of
// preference; -1 for none.
std::array<int, 2> InplaceInputs(const Node& node) {
  if (node.domain.empty() && node.inputs.size() == 2 && IsBinaryElementwiseOp(node.op_type)) {
    return {0, 1};
  }
  if (IsInplaceOp(node)) return {0, -1};
  // A Conv with its sum post-op before the activation (accel_sum 1) starts from the addend in
  // dst; its kernel skips that copy when both share a buffer (backends/cpu/dnnl_util.h).
  // Not accel_sum 2: that one adds the addend after writing dst.
  if (node.domain.empty() && node.op_type == "Conv" && node.inputs.size() > 3 &&
      node.inputs[3] != node.inputs[0]) {
    Result<int64_t> sum = node.attrs.GetInt(core::kFusedSumAttr, 0);
    if (sum.ok() && *sum == 1) return {3, -1};
  }
  return {-1, -1};
}

Status WithNode(const Graph& g, size_t n, const Status& s) {
  if (s.ok()) return s;
  return Status(s.code(), g.NodeLabel(n) + ": " + s.message());
}

size_t ByteSize(const core::TensorType& type, const Shape& physical) {
  return static_cast<size_t>(ElementCount(physical)) * DTypeSize(type.dtype);
}

// Where each input of Concat node n starts in its output, in bytes, when every input is one
// contiguous range of the output: the physical shapes agree except on one axis, every dim
// before that axis is 1, and the axis sizes add up. Blocked values also need whole channel
// blocks, so that no input's padding lands inside the output. Empty when not.
std::vector<size_t> ConcatRanges(const Graph& g, size_t n, const RunPlan& p) {
  const Node& node = g.nodes[n];
  const int out = node.outputs[0];
  const Shape& whole = p.physical[out];
  const Layout layout = g.values[out].layout;
  std::vector<size_t> starts;
  size_t start = 0;
  int64_t axis_sum = 0;
  int axis = -1;
  for (int in : node.inputs) {
    if (in == kNoValue || g.values[in].layout != layout ||
        p.types[in].dtype != p.types[out].dtype || p.physical[in].size() != whole.size()) {
      return {};
    }
    const Shape& part = p.physical[in];
    if (layout == Layout::kBlocked && p.types[in].dims[1] % core::kChannelBlock != 0) return {};
    for (size_t d = 0; d < whole.size(); ++d) {
      if (part[d] == whole[d]) continue;
      if (axis >= 0 && static_cast<int>(d) != axis) return {};
      axis = static_cast<int>(d);
    }
    starts.push_back(start);
    start += ByteSize(p.types[in], part);
  }
  if (axis < 0) return {};  // a single input: nothing to concatenate
  for (int in : node.inputs) axis_sum += p.physical[in][axis];
  if (axis_sum != whole[axis]) return {};
  for (int d = 0; d < axis; ++d) {
    if (whole[d] != 1) return {};
  }
  return starts;
}

// Turns the inputs of each eligible Concat into views of its output (see run_plan.h). An input
// qualifies when a static node computes it into the arena, no view was made of it, and it
// appears once; the output must be an arena value and not itself an elided Concat's input.
// The output then lives from its first input's producer on, which can raise the arena's peak
// when an input is computed long before the Concat (YOLOX's PAN joins an early backbone
// feature): such a Concat is kept, judged on the bytes live at each step.
void ElideConcats(const Graph& g, RunPlan& p) {
  const int num_nodes = static_cast<int>(g.nodes.size());
  std::vector<int> uses_as_view_root(g.values.size(), 0);
  for (int root : p.view_root) {
    if (root >= 0) ++uses_as_view_root[root];
  }
  std::vector<int> producer(g.values.size(), -1), last(g.values.size(), -1);
  for (int n = 0; n < num_nodes; ++n) {
    for (int in : g.nodes[n].inputs) {
      if (in != kNoValue && p.mode[n] != NodeMode::kPrecomputed) last[in] = n;
    }
    if (p.mode[n] != NodeMode::kStatic) continue;
    for (int out : g.nodes[n].outputs) {
      if (out != kNoValue) producer[out] = n;
    }
  }
  for (int v : g.outputs) last[v] = num_nodes;
  // Bytes of arena values live at each step (views ignored: an estimate, not the plan).
  std::vector<int64_t> live(num_nodes + 1, 0);
  auto add = [&](int from, int to, int64_t bytes) {
    for (int step = from; step <= to; ++step) live[step] += bytes;
  };
  auto bytes_of = [&](int v) { return static_cast<int64_t>(ByteSize(p.types[v], p.physical[v])); };
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (p.storage[v] == Storage::kArena && producer[v] >= 0) {
      add(producer[v], std::max(producer[v], last[v]), bytes_of(static_cast<int>(v)));
    }
  }
  for (int n = 0; n < num_nodes; ++n) {
    const Node& node = g.nodes[n];
    if (p.mode[n] != NodeMode::kStatic || !node.domain.empty() || node.op_type != "Concat" ||
        node.outputs.size() != 1 || node.outputs[0] == kNoValue ||
        p.storage[node.outputs[0]] != Storage::kArena || node.inputs.size() < 2) {
      continue;
    }
    const int out = node.outputs[0];
    bool eligible = true;
    for (size_t i = 0; i < node.inputs.size() && eligible; ++i) {
      const int in = node.inputs[i];
      eligible = in != kNoValue && p.storage[in] == Storage::kArena && producer[in] >= 0 &&
                 uses_as_view_root[in] == 0 &&
                 std::count(node.inputs.begin(), node.inputs.end(), in) == 1;
    }
    if (!eligible) continue;
    const std::vector<size_t> starts = ConcatRanges(g, n, p);
    if (starts.empty()) continue;
    const int64_t peak = *std::ranges::max_element(live);
    const int out_last = std::max(n, last[out]);
    int first = n, joint_last = out_last;
    for (int in : node.inputs) {
      first = std::min(first, producer[in]);
      joint_last = std::max(joint_last, last[in]);
    }
    const std::vector<int64_t> before = live;
    for (int in : node.inputs) add(producer[in], std::max(producer[in], last[in]), -bytes_of(in));
    add(n, out_last, -bytes_of(out));
    add(first, joint_last, bytes_of(out));
    if (*std::ranges::max_element(live) > peak) {
      live = before;  // keep the Concat: eliding it would raise the peak
      continue;
    }
    last[out] = joint_last;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int in = node.inputs[i];
      p.storage[in] = Storage::kView;
      p.view_root[in] = out;
      p.view_offset[in] = starts[i];
      ++uses_as_view_root[out];
    }
    p.mode[n] = NodeMode::kView;
    ++p.elided_concats;
  }
}

// Shape-only stand-in for an input whose bytes a Shape or Size kernel never reads.
alignas(kAlignment) std::byte g_no_data[kAlignment];

// Evaluates node n now; its outputs become constants of the plan.
Status Precompute(const internal::ModelImpl& model, size_t n, core::Kernel& kernel, int num_threads,
                  RunPlan& plan) {
  const Graph& g = model.graph;
  const Node& node = g.nodes[n];
  std::vector<int> stand_ins;
  for (int in : node.inputs) {
    if (in == kNoValue || plan.storage[in] == Storage::kConstant) continue;
    plan.values[in] = Tensor::View(plan.types[in].dtype, plan.types[in].dims, g_no_data);
    stand_ins.push_back(in);
  }
  Status s = core::ComputeNode(g, n, *model.op_defs[n], model.op_versions[n], kernel, plan.values,
                               num_threads);
  for (int in : stand_ins) plan.values[in] = Tensor();
  ACCEL_RETURN_IF_ERROR(s);
  for (int out : node.outputs) {
    if (out == kNoValue) continue;
    Tensor& t = plan.values[out];
    // Never keep a view of a stand-in or of another plan constant's buffer without its owner.
    if (t.is_view()) {
      ACCEL_ASSIGN_OR_RETURN(t, t.Clone());
    }
    plan.storage[out] = Storage::kConstant;
    plan.types[out] = core::TensorType::Known(t.dtype(), t.shape());
    plan.physical[out] = t.shape();
  }
  return Status::Ok();
}

class PlannedContext final : public core::KernelContext {
 public:
  PlannedContext(const Graph& g, size_t n, RunPlan& plan, int num_threads)
      : graph_(g), n_(n), node_(g.nodes[n]), plan_(plan), num_threads_(num_threads) {}

  size_t num_inputs() const override { return node_.inputs.size(); }
  bool has_input(size_t i) const override {
    return i < node_.inputs.size() && node_.inputs[i] != kNoValue;
  }
  const Tensor& input(size_t i) const override { return plan_.values[node_.inputs[i]]; }
  const Shape& input_shape(size_t i) const override { return plan_.types[node_.inputs[i]].dims; }
  size_t num_outputs() const override { return node_.outputs.size(); }
  bool has_output(size_t i) const override {
    return i < node_.outputs.size() && node_.outputs[i] != kNoValue;
  }
  const Shape& output_shape(size_t i) const override {
    static const Shape kNone;
    return has_output(i) ? plan_.types[node_.outputs[i]].dims : kNone;
  }

  Result<Tensor*> Output(size_t i) override {
    if (!has_output(i)) return Internal("output " + std::to_string(i) + " is not wanted");
    const int v = node_.outputs[i];
    Tensor& t = plan_.values[v];
    if (t.empty()) {
      ACCEL_ASSIGN_OR_RETURN(t, Tensor::Create(plan_.types[v].dtype, plan_.physical[v]));
    }
    return &t;
  }

  Result<Tensor*> AllocateOutput(size_t i, Shape shape) override {
    if (!has_output(i)) return Internal("output " + std::to_string(i) + " is not wanted");
    const int v = node_.outputs[i];
    const Layout layout = graph_.values[v].layout;
    const bool matches = layout == Layout::kPlain
                             ? shape == plan_.types[v].dims
                             : core::PhysicalShape(layout, shape) == plan_.physical[v];
    if (!matches) {
      return Internal("output " + std::to_string(i) + " has shape " + ShapeToString(shape) +
                      ", its shape rule says " + ShapeToString(plan_.types[v].dims));
    }
    return Output(i);
  }

  Status SetOutput(size_t i, Tensor tensor) override {
    if (!has_output(i)) return Status::Ok();
    const int v = node_.outputs[i];
    Tensor& slot = plan_.values[v];
    if (plan_.storage[v] == Storage::kDynamic) {
      slot = std::move(tensor);
      return Status::Ok();
    }
    // A planned slot: the kernel's tensor (an input or a kernel constant) is copied into it.
    if (tensor.dtype() != slot.dtype() || tensor.byte_size() != slot.byte_size()) {
      return Internal("output " + std::to_string(i) + " is " + DTypeName(tensor.dtype()) +
                      ShapeToString(tensor.shape()) + ", its shape rule says " +
                      DTypeName(slot.dtype()) + ShapeToString(slot.shape()));
    }
    if (tensor.data() != slot.data() && slot.byte_size() > 0) {
      std::memcpy(slot.data(), tensor.data(), slot.byte_size());
    }
    return Status::Ok();
  }

  int num_threads() const override { return num_threads_; }
  bool warm_up() const override { return plan_.warm_up && !plan_.feeds_dynamic[n_]; }

 private:
  const Graph& graph_;
  size_t n_;
  const Node& node_;
  RunPlan& plan_;
  int num_threads_;
};

}  // namespace

Result<std::unique_ptr<RunPlan>> BuildRunPlan(
    const internal::ModelImpl& model, std::span<const std::unique_ptr<core::Kernel>> kernels,
    std::vector<Shape> key, int num_threads, const PlanOptions& options) {
  const Graph& g = model.graph;
  const size_t num_values = g.values.size();
  const int num_nodes = static_cast<int>(g.nodes.size());
  if (key.size() != g.inputs.size()) return Internal("plan key does not match the inputs");
  auto plan = std::make_unique<RunPlan>();
  RunPlan& p = *plan;
  p.key = std::move(key);
  p.types.resize(num_values);
  p.physical.resize(num_values);
  p.storage.assign(num_values, Storage::kDynamic);
  p.view_root.assign(num_values, -1);
  p.view_offset.assign(num_values, 0);
  p.offset.assign(num_values, 0);
  p.last_use.assign(num_values, -1);
  p.mode.assign(g.nodes.size(), NodeMode::kDynamic);
  p.values.resize(num_values);

  for (size_t v = 0; v < num_values; ++v) {
    if (!g.values[v].constant) continue;
    const Tensor& c = *g.values[v].constant;
    p.storage[v] = Storage::kConstant;
    p.types[v] = core::TensorType::Known(c.dtype(), c.shape());
    p.physical[v] = c.shape();
    p.values[v] = c;
  }
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const int v = g.inputs[k];
    // A defaulted input may be fed: it is bound per run either way.
    p.storage[v] = Storage::kInput;
    p.types[v] = core::TensorType::Known(g.values[v].type.dtype, p.key[k]);
    p.physical[v] = p.key[k];
    p.values[v] = Tensor();
  }
  std::vector<bool> is_output(num_values, false);
  for (int v : g.outputs) is_output[v] = true;

  for (int n = 0; n < num_nodes; ++n) {
    const Node& node = g.nodes[n];
    std::vector<const core::TensorType*> in_types;
    std::vector<const Tensor*> in_values;
    bool known = true, all_constant = true, all_plain = true;
    for (int in : node.inputs) {
      const bool present = in != kNoValue;
      in_types.push_back(present ? &p.types[in] : nullptr);
      const bool constant = present && p.storage[in] == Storage::kConstant;
      const bool plain = !present || g.values[in].layout == Layout::kPlain;
      in_values.push_back(constant && plain ? &p.values[in] : nullptr);
      known = known && (!present || p.types[in].fully_known());
      all_constant = all_constant && (!present || constant);
      all_plain = all_plain && plain;
    }
    core::InferContext infer(node.attrs, model.op_versions[n], std::move(in_types),
                             std::move(in_values), node.outputs.size());
    ACCEL_RETURN_IF_ERROR(WithNode(g, n, model.op_defs[n]->infer(infer)));
    int64_t max_elements = 0;
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const int out = node.outputs[i];
      if (out == kNoValue) continue;
      p.types[out] = infer.outputs()[i];
      known = known && p.types[out].fully_known();
      all_plain = all_plain && g.values[out].layout == Layout::kPlain;
      if (p.types[out].fully_known()) {
        p.physical[out] = core::PhysicalShape(g.values[out].layout, p.types[out].dims);
        max_elements = std::max(max_elements, ElementCount(p.physical[out]));
      }
    }
    if (!known) continue;  // dynamic: outputs stay kDynamic

    const bool shape_only = node.domain.empty() && IsOneOf(node.op_type, {"Shape", "Size"});
    if ((all_constant || shape_only) && all_plain && !IsRandomOp(node) &&
        max_elements <= kMaxPrecomputedElements) {
      ACCEL_RETURN_IF_ERROR(WithNode(g, n, Precompute(model, n, *kernels[n], num_threads, p)));
      p.mode[n] = NodeMode::kPrecomputed;
      continue;
    }
    p.mode[n] = NodeMode::kStatic;
    const int in0 = node.inputs.empty() ? kNoValue : node.inputs[0];
    int wanted_outputs = 0;
    for (int out : node.outputs) wanted_outputs += out != kNoValue;
    if (IsViewOp(node) && in0 != kNoValue && wanted_outputs == 1 && node.outputs[0] != kNoValue &&
        all_plain && !is_output[node.outputs[0]]) {
      const int out = node.outputs[0];
      const bool same_bytes = p.types[out].dtype == p.types[in0].dtype &&
                              ElementCount(p.physical[out]) == ElementCount(p.physical[in0]);
      if (same_bytes && p.storage[in0] == Storage::kConstant) {
        ACCEL_ASSIGN_OR_RETURN(p.values[out], p.values[in0].Reshaped(p.physical[out]));
        p.storage[out] = Storage::kConstant;
        p.mode[n] = NodeMode::kPrecomputed;
        continue;
      }
      if (same_bytes && (p.storage[in0] == Storage::kArena || p.storage[in0] == Storage::kView)) {
        p.storage[out] = Storage::kView;
        p.view_root[out] = p.storage[in0] == Storage::kView ? p.view_root[in0] : in0;
        p.mode[n] = NodeMode::kView;
        continue;
      }
      if (same_bytes &&
          (p.storage[in0] == Storage::kInput || p.storage[in0] == Storage::kInputView)) {
        p.storage[out] = Storage::kInputView;
        continue;
      }
      // A view of a dynamic value: the kernel aliases it per run.
      p.storage[out] = Storage::kDynamic;
      continue;
    }
    for (int out : node.outputs) {
      if (out == kNoValue) continue;
      p.storage[out] = is_output[out] ? Storage::kOutput : Storage::kArena;
    }
  }
  if (options.concat_in_place) ElideConcats(g, p);
  for (int n = 0; n < num_nodes; ++n) {
    if (p.mode[n] == NodeMode::kPrecomputed) continue;
    for (int in : g.nodes[n].inputs) {
      if (in != kNoValue) p.last_use[in] = n;
    }
  }
  for (int v : g.outputs) p.last_use[v] = num_nodes;
  // A view keeps its root's bytes alive; views are created in order, so roots come first.
  for (size_t v = 0; v < num_values; ++v) {
    if (p.storage[v] == Storage::kView) {
      int& root_use = p.last_use[p.view_root[v]];
      root_use = std::max(root_use, p.last_use[v]);
    }
  }

  std::vector<Block> blocks;
  std::vector<int> block_of(num_values, -1);
  for (int n = 0; n < num_nodes; ++n) {
    const Node& node = g.nodes[n];
    if (p.mode[n] != NodeMode::kStatic) continue;
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      int out = node.outputs[i];
      // An elided Concat's input: its output's block starts with the first of its producers.
      if (out != kNoValue && p.storage[out] == Storage::kView && block_of[p.view_root[out]] < 0) {
        out = p.view_root[out];
        block_of[out] = static_cast<int>(blocks.size());
        blocks.push_back({.bytes = ByteSize(p.types[out], p.physical[out]),
                          .first_step = n,
                          .last_step = std::max(n, p.last_use[out])});
        p.block_value.push_back(out);
        continue;
      }
      if (out == kNoValue || p.storage[out] != Storage::kArena) continue;
      Block b;
      b.bytes = ByteSize(p.types[out], p.physical[out]);
      b.first_step = n;
      b.last_step = std::max(n, p.last_use[out]);
      for (int slot : InplaceInputs(node)) {
        const int in = slot < 0 ? kNoValue : node.inputs[slot];
        if (options.allow_inplace && i == 0 && in != kNoValue && block_of[in] >= 0 &&
            p.last_use[in] == n && p.types[in].dtype == p.types[out].dtype &&
            g.values[in].layout == g.values[out].layout && p.physical[in] == p.physical[out]) {
          b.inplace_source = block_of[in];
          break;
        }
      }
      block_of[out] = static_cast<int>(blocks.size());
      blocks.push_back(b);
      p.block_value.push_back(out);
    }
  }
  ACCEL_ASSIGN_OR_RETURN(p.memory, PlanMemory(blocks, options));
  for (size_t b = 0; b < blocks.size(); ++b) p.offset[p.block_value[b]] = p.memory.offsets[b];
  for (int n = 0; n < num_nodes; ++n) p.dynamic_nodes += p.mode[n] == NodeMode::kDynamic;
  p.feeds_dynamic.assign(g.nodes.size(), 0);
  std::vector<uint8_t> read(g.values.size(), 0);  // read by a dynamic node, directly or not
  for (int n = num_nodes - 1; n >= 0; --n) {
    for (int out : g.nodes[n].outputs) p.feeds_dynamic[n] |= out != kNoValue && read[out];
    if (p.mode[n] != NodeMode::kDynamic && !p.feeds_dynamic[n]) continue;
    for (int in : g.nodes[n].inputs) {
      if (in != kNoValue) read[in] = 1;
    }
  }
  return plan;
}

Status BindArena(RunPlan& plan, std::byte* base) {
  const size_t num_values = plan.values.size();
  std::byte* origin = base != nullptr ? base : g_no_data;
  for (size_t v = 0; v < num_values; ++v) {
    if (plan.storage[v] != Storage::kArena) continue;
    plan.values[v] = Tensor::View(plan.types[v].dtype, plan.physical[v], origin + plan.offset[v]);
  }
  for (size_t v = 0; v < num_values; ++v) {
    if (plan.storage[v] == Storage::kInputView && plan.values[v].empty()) {
      plan.values[v] =
          Tensor::View(plan.types[v].dtype, plan.physical[v], static_cast<void*>(nullptr));
    }
    if (plan.storage[v] != Storage::kView) continue;
    plan.values[v] = Tensor::View(
        plan.types[v].dtype, plan.physical[v],
        static_cast<std::byte*>(plan.values[plan.view_root[v]].data()) + plan.view_offset[v]);
  }
  plan.bound_base = base;
  plan.arena_bound = true;
  return Status::Ok();
}

Status RunStaticNode(const core::Graph& g, size_t n, RunPlan& plan, core::Kernel& kernel,
                     int num_threads) {
  const Node& node = g.nodes[n];
  if (node.outputs.size() == 1 && node.outputs[0] != kNoValue &&
      plan.storage[node.outputs[0]] == Storage::kInputView) {
    internal::TensorAccess::Repoint(plan.values[node.outputs[0]],
                                    const_cast<void*>(plan.values[node.inputs[0]].data()));
    return Status::Ok();
  }
  // A view op computing into a planned buffer (a graph output): its shapes were checked when
  // the plan was built, so the bytes are copied without the kernel, whose Tensor of the new
  // shape would allocate every run.
  if (IsViewOp(node) && node.outputs.size() == 1 && node.outputs[0] != kNoValue &&
      !node.inputs.empty() && node.inputs[0] != kNoValue &&
      plan.storage[node.outputs[0]] == Storage::kOutput) {
    const Tensor& in = plan.values[node.inputs[0]];
    Tensor& out = plan.values[node.outputs[0]];
    if (!out.empty() && in.dtype() == out.dtype() && in.byte_size() == out.byte_size()) {
      if (in.data() != out.data() && out.byte_size() > 0) {
        std::memcpy(out.data(), in.data(), out.byte_size());
      }
      return Status::Ok();
    }
  }
  PlannedContext ctx(g, n, plan, num_threads);
  ACCEL_RETURN_IF_ERROR(kernel.Compute(ctx));
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    const int out = node.outputs[i];
    if (out != kNoValue && plan.values[out].empty()) {
      return Internal("output " + std::to_string(i) + " was not produced");
    }
  }
  return Status::Ok();
}

Result<RunPlan*> PlanCache::Get(const internal::ModelImpl& model,
                                std::span<const std::unique_ptr<core::Kernel>> kernels,
                                std::span<const Shape* const> shapes, int num_threads,
                                const PlanOptions& options) {
  auto matches = [&](const RunPlan& plan) {
    if (plan.key.size() != shapes.size()) return false;
    for (size_t k = 0; k < shapes.size(); ++k) {
      if (plan.key[k] != *shapes[k]) return false;
    }
    return true;
  };
  auto it = std::ranges::find_if(plans_, [&](const auto& plan) { return matches(*plan); });
  if (it == plans_.end()) {
    std::vector<Shape> key;
    for (const Shape* shape : shapes) key.push_back(*shape);
    ACCEL_ASSIGN_OR_RETURN(std::unique_ptr<RunPlan> plan,
                           BuildRunPlan(model, kernels, std::move(key), num_threads, options));
    const std::byte* before = arena_.data();
    ACCEL_RETURN_IF_ERROR(arena_.Reserve(plan->memory.arena_bytes));
    // Fault the pages in now rather than in the first run.
    if (arena_.data() != before) arena_.Prefault();
    if (plans_.size() >= capacity_) plans_.pop_back();
    plans_.insert(plans_.begin(), std::move(plan));
    it = plans_.begin();
  }
  std::rotate(plans_.begin(), it, it + 1);
  RunPlan& plan = *plans_.front();
  if (!plan.arena_bound || plan.bound_base != arena_.data()) {
    ACCEL_RETURN_IF_ERROR(BindArena(plan, arena_.data()));
  }
  return &plan;
}

Status DetachFromArena(const core::Graph& g, size_t n, RunPlan& plan) {
  const auto* begin = plan.bound_base;
  const auto* end = begin + plan.memory.arena_bytes;
  for (int out : g.nodes[n].outputs) {
    if (out == kNoValue) continue;
    Tensor& t = plan.values[out];
    const auto* data = static_cast<const std::byte*>(t.data());
    if (t.is_view() && begin != nullptr && data >= begin && data < end) {
      ACCEL_ASSIGN_OR_RETURN(t, t.Clone());
    }
  }
  return Status::Ok();
}

}  // namespace accel::memory
