#include "core/passes/fold_pad_pool.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace accel::core {

namespace {

bool Is(const Node& node, std::string_view op) { return node.domain.empty() && node.op_type == op; }

// A fixed constant holding exactly one zero (float or double), or an omitted input.
bool ZeroOrOmitted(const Graph& g, const Node& node, size_t i) {
  if (i >= node.inputs.size() || node.inputs[i] == kNoValue) return true;
  if (!IsFixedConstant(g, node.inputs[i])) return false;
  const Tensor& t = *g.values[node.inputs[i]].constant;
  if (t.element_count() != 1) return false;
  if (t.dtype() == DType::kFloat32) return t.data_as<float>()[0] == 0.0f;
  if (t.dtype() == DType::kFloat64) return t.data_as<double>()[0] == 0.0;
  return false;
}

// The Pad's {h_begin, w_begin, h_end, w_end} when it pads a 4-D value with zeros on H and W
// only; nullopt otherwise.
std::optional<std::vector<int64_t>> SpatialZeroPads(const Graph& g, const Node& pad, int version) {
  Result<std::string> mode = pad.attrs.GetString("mode", "constant");
  if (!mode.ok() || *mode != "constant" || pad.inputs.empty() || pad.inputs[0] == kNoValue) {
    return std::nullopt;
  }
  const TensorType& x = g.values[pad.inputs[0]].type;
  if (!x.has_shape || x.rank() != 4) return std::nullopt;
  std::vector<int64_t> pads;
  if (version < 11) {
    Result<std::vector<int64_t>> attr = pad.attrs.GetInts(version < 2 ? "paddings" : "pads");
    Result<float> value = pad.attrs.GetFloat("value", 0.0f);
    if (!attr.ok() || !value.ok() || *value != 0.0f) return std::nullopt;
    pads = *attr;
  } else {
    // Inputs: data, pads, constant_value, axes (opset 18); pads over chosen axes are left alone.
    if (pad.inputs.size() < 2 || pad.inputs[1] == kNoValue || !IsFixedConstant(g, pad.inputs[1]) ||
        !ZeroOrOmitted(g, pad, 2) || (pad.inputs.size() > 3 && pad.inputs[3] != kNoValue)) {
      return std::nullopt;
    }
    const Tensor& t = *g.values[pad.inputs[1]].constant;
    if (t.dtype() != DType::kInt64) return std::nullopt;
    std::span<const int64_t> v = t.values<int64_t>();
    pads.assign(v.begin(), v.end());
  }
  if (pads.size() != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0) {
    return std::nullopt;
  }
  for (int64_t p : pads) {
    if (p < 0) return std::nullopt;
  }
  return std::vector<int64_t>{pads[2], pads[3], pads[6], pads[7]};
}

// The pool takes the pads: 2-D, explicit zero pads (or none), no dilation or ceil_mode, and
// pads below the window so that no window lies wholly in the padding.
bool PoolTakesPads(const Node& pool, const std::vector<int64_t>& pads) {
  Result<std::string> auto_pad = pool.attrs.GetString("auto_pad", "NOTSET");
  Result<int64_t> ceil_mode = pool.attrs.GetInt("ceil_mode", 0);
  Result<std::vector<int64_t>> kernel = pool.attrs.GetInts("kernel_shape");
  Result<std::vector<int64_t>> own = pool.attrs.GetInts("pads", {0, 0, 0, 0});
  Result<std::vector<int64_t>> dilations = pool.attrs.GetInts("dilations", {1, 1});
  if (!auto_pad.ok() || *auto_pad != "NOTSET" || !ceil_mode.ok() || *ceil_mode != 0 ||
      !kernel.ok() || kernel->size() != 2 || !own.ok() || *own != std::vector<int64_t>(4, 0) ||
      !dilations.ok() || *dilations != std::vector<int64_t>{1, 1}) {
    return false;
  }
  for (size_t i = 0; i < 4; ++i) {
    if (pads[i] >= (*kernel)[i % 2]) return false;
  }
  return true;
}

}  // namespace

void FoldPadIntoAveragePool(Graph& g, PassContext& ctx) {
  const ValueUses uses(g);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& pool = g.nodes[n];
    if (!Is(pool, "AveragePool") || ctx.IsRemoved(n) || pool.inputs.empty()) continue;
    const int padded = pool.inputs[0];
    if (padded == kNoValue || !uses.OnlyUsedBy(padded, static_cast<int>(n))) continue;
    const int p = g.values[padded].producer;
    if (p == kNoValue || !Is(g.nodes[p], "Pad") || ctx.IsRemoved(p)) continue;
    const std::optional<std::vector<int64_t>> pads =
        SpatialZeroPads(g, g.nodes[p], ctx.op_version(p));
    if (!pads || !PoolTakesPads(pool, *pads)) continue;
    pool.inputs[0] = g.nodes[p].inputs[0];
    pool.attrs.Set("pads", *pads);
    pool.attrs.Set("count_include_pad", int64_t{1});
    ctx.RemoveNode(p);
    ctx.CountRewrite();
  }
}

}  // namespace accel::core
