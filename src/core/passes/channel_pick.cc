#include "core/passes/channel_pick.h"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/node_eval.h"

namespace accel::core {

namespace {

// Element indices are traced through the chain as float32, exact up to 2^24.
constexpr int64_t kMaxTracedElements = int64_t{1} << 24;
// Reshape/Transpose nodes a chain may have: a shuffle needs three.
constexpr size_t kMaxChain = 4;

bool Is(const Node& node, std::string_view op) { return node.domain.empty() && node.op_type == op; }

bool Static4dFloat(const Graph& g, int v) {
  if (v == kNoValue) return false;
  const TensorType& t = g.values[v].type;
  return t.dtype == DType::kFloat32 && t.fully_known() && t.rank() == 4;
}

// Shape, starts, indices...: everything but the data input is fixed, so the node does the same
// thing in every run.
bool FixedParameters(const Graph& g, const Node& node) {
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    if (node.inputs[i] != kNoValue && !IsFixedConstant(g, node.inputs[i])) return false;
  }
  return node.outputs.size() == 1 && node.inputs[0] != kNoValue;
}

struct Chain {
  int source = kNoValue;      // V
  std::vector<size_t> nodes;  // Reshape/Transpose nodes from V on
  std::vector<size_t> picks;  // nodes whose outputs become ChannelPicks
};

std::optional<Chain> FindChain(const Graph& g, const ValueUses& uses, const PassContext& ctx,
                               size_t first) {
  const Node& head = g.nodes[first];
  if (!Is(head, "Reshape") || ctx.IsRemoved(first) || !FixedParameters(g, head) ||
      !Static4dFloat(g, head.inputs[0])) {
    return std::nullopt;
  }
  Chain c;
  c.source = head.inputs[0];
  c.nodes.push_back(first);
  bool transposed = false;
  for (;;) {
    const int out = g.nodes[c.nodes.back()].outputs[0];
    if (uses.is_graph_output(out) || c.nodes.size() == kMaxChain) break;
    const std::vector<ValueUse>& next = uses.consumers(out);
    if (next.size() != 1 || next[0].input != 0) break;
    const Node& node = g.nodes[next[0].node];
    if (!(Is(node, "Reshape") || Is(node, "Transpose")) || !FixedParameters(g, node)) break;
    transposed |= Is(node, "Transpose");
    c.nodes.push_back(next[0].node);
  }
  if (!transposed) return std::nullopt;
  const int t = g.nodes[c.nodes.back()].outputs[0];
  // The split halves each become a pick; otherwise the shuffled tensor itself.
  const std::vector<ValueUse>& consumers = uses.consumers(t);
  bool splits = !consumers.empty() && !uses.is_graph_output(t);
  for (const ValueUse& use : consumers) {
    const Node& node = g.nodes[use.node];
    splits = splits && use.input == 0 && (Is(node, "Slice") || Is(node, "Gather")) &&
             FixedParameters(g, node) && Static4dFloat(g, node.outputs[0]);
  }
  if (splits) {
    for (const ValueUse& use : consumers) c.picks.push_back(use.node);
  } else if (Static4dFloat(g, t)) {
    c.picks.push_back(c.nodes.back());
  } else {
    return std::nullopt;
  }
  return c;
}

// Runs the chain and the picks on the element indices in values[V] and reads which channel
// of V each pick's output channel is; nullopt when some output channel is not one whole plane
// of V.
std::optional<std::vector<std::vector<int64_t>>> RunTrace(const Graph& g, const PassContext& ctx,
                                                          const Chain& c,
                                                          std::vector<Tensor>& values) {
  const std::vector<int64_t>& dims = g.values[c.source].type.dims;
  std::vector<size_t> order = c.nodes;
  for (size_t p : c.picks) {
    if (p != c.nodes.back()) order.push_back(p);
  }
  try {
    for (size_t n : order) {
      const Node& node = g.nodes[n];
      const OpDef* def = ctx.op_def(n);
      if (!def) return std::nullopt;
      for (size_t i = 1; i < node.inputs.size(); ++i) {
        if (node.inputs[i] != kNoValue) values[node.inputs[i]] = *g.values[node.inputs[i]].constant;
      }
      Result<std::unique_ptr<Kernel>> kernel =
          CreateNodeKernel(g, n, *def, ctx.op_version(n), /*num_threads=*/1);
      if (!kernel.ok()) return std::nullopt;
      if (!ComputeNode(g, n, *def, ctx.op_version(n), **kernel, values, 1).ok()) {
        return std::nullopt;
      }
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const int64_t batch = dims[0], channels = dims[1], plane = dims[2] * dims[3];
  std::vector<std::vector<int64_t>> picked;
  for (size_t p : c.picks) {
    const Tensor& t = values[g.nodes[p].outputs[0]];
    const Shape& s = t.shape();
    if (t.dtype() != DType::kFloat32 || s.size() != 4 || s[0] != batch || s[2] != dims[2] ||
        s[3] != dims[3]) {
      return std::nullopt;
    }
    std::span<const float> v = t.values<float>();
    std::vector<int64_t> map(s[1], -1);
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t ch = 0; ch < s[1]; ++ch) {
        const float* x = v.data() + (n * s[1] + ch) * plane;
        const int64_t base = static_cast<int64_t>(x[0]);
        if (base % plane != 0 || base / (channels * plane) != n) return std::nullopt;
        for (int64_t i = 0; i < plane; ++i) {
          if (x[i] != static_cast<float>(base + i)) return std::nullopt;
        }
        const int64_t from = base / plane % channels;
        if (n > 0 && map[ch] != from) return std::nullopt;
        map[ch] = from;
      }
    }
    picked.push_back(std::move(map));
  }
  return picked;
}

// RunTrace on V's element indices.
std::optional<std::vector<std::vector<int64_t>>> TraceChannels(const Graph& g,
                                                               const PassContext& ctx,
                                                               const Chain& c) {
  const std::vector<int64_t>& dims = g.values[c.source].type.dims;
  const int64_t count = ElementCount(dims);
  if (count > kMaxTracedElements) return std::nullopt;
  Result<Tensor> source = Tensor::Create(DType::kFloat32, dims);
  if (!source.ok()) return std::nullopt;
  float* index = source->data_as<float>();
  for (int64_t i = 0; i < count; ++i) index[i] = static_cast<float>(i);
  std::vector<Tensor> values(g.values.size());
  values[c.source] = std::move(source).value();
  // The copy kernels split large tensors between OpenMP threads on their own; at load that
  // would start a team whose spinning workers then compete with the rest of the load (load +
  // prepare of shufflenet took 20-130 ms instead of ~20 ms).
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  std::optional<std::vector<std::vector<int64_t>>> picked = RunTrace(g, ctx, c, values);
  omp_set_num_threads(threads);
  return picked;
}

// Everything a trace depends on: the source's dims and, per node, the op, its attributes and
// constant inputs; nullopt when an attribute is not a plain number or list. ShuffleNet repeats
// one block per stage, so its 13 chains need 3 traces.
std::optional<std::string> TraceKey(const Graph& g, const PassContext& ctx, const Chain& c) {
  std::string key = ShapeToString(g.values[c.source].type.dims);
  auto add_node = [&](size_t n) {
    const Node& node = g.nodes[n];
    key += "|" + node.op_type + "@" + std::to_string(ctx.op_version(n));
    for (const auto& [name, value] : node.attrs.all()) {
      key += " " + name + "=";
      if (const int64_t* i = std::get_if<int64_t>(&value)) {
        key += std::to_string(*i);
      } else if (const std::vector<int64_t>* v = std::get_if<std::vector<int64_t>>(&value)) {
        for (int64_t x : *v) key += std::to_string(x) + ",";
      } else {
        return false;
      }
    }
    for (size_t i = 1; i < node.inputs.size(); ++i) {
      if (node.inputs[i] == kNoValue) {
        key += " -";
        continue;
      }
      const Tensor& t = *g.values[node.inputs[i]].constant;
      key += " " + std::string(DTypeName(t.dtype())) + ShapeToString(t.shape()) + ":";
      key.append(static_cast<const char*>(t.data()), t.byte_size());
    }
    return true;
  };
  for (size_t n : c.nodes) {
    if (!add_node(n)) return std::nullopt;
  }
  key += "|picks";
  for (size_t p : c.picks) {
    if (p == c.nodes.back()) {
      key += "|tail";
    } else if (!add_node(p)) {
      return std::nullopt;
    }
  }
  return key;
}

// The Concat along channels that produces v, or nullopt.
std::optional<size_t> ChannelConcat(const Graph& g, int v) {
  const int producer = g.values[v].producer;
  if (producer == kNoValue) return std::nullopt;
  const Node& node = g.nodes[producer];
  Result<int64_t> axis = node.attrs.GetInt("axis", 1);
  if (!Is(node, "Concat") || !axis.ok() || (*axis != 1 && *axis != -3)) return std::nullopt;
  for (int in : node.inputs) {
    if (!Static4dFloat(g, in)) return std::nullopt;
  }
  return static_cast<size_t>(producer);
}

}  // namespace

void FuseChannelPicks(Graph& g, PassContext& ctx) {
  const size_t original = g.nodes.size();
  // Rebuilt after each rewrite, which rewires the picks' inputs.
  std::optional<ValueUses> uses;
  std::map<std::string, std::optional<std::vector<std::vector<int64_t>>>> traced;
  for (size_t n = 0; n < original; ++n) {
    if (!Is(g.nodes[n], "Reshape") || ctx.IsRemoved(n)) continue;
    if (!uses) uses.emplace(g);
    std::optional<Chain> chain = FindChain(g, *uses, ctx, n);
    if (!chain) continue;
    std::optional<std::vector<std::vector<int64_t>>> picked;
    const std::optional<std::string> key = TraceKey(g, ctx, *chain);
    if (auto known = key ? traced.find(*key) : traced.end(); known != traced.end()) {
      picked = known->second;
    } else {
      picked = TraceChannels(g, ctx, *chain);
      if (key) traced.emplace(*key, picked);
    }
    if (!picked) continue;
    std::vector<int> inputs = {chain->source};
    const std::optional<size_t> concat = ChannelConcat(g, chain->source);
    if (concat) inputs = g.nodes[*concat].inputs;
    for (size_t i = 0; i < chain->picks.size(); ++i) {
      Node& node = g.nodes[chain->picks[i]];
      node.op_type = "ChannelPick";
      node.domain = "accel";
      node.opset = 1;
      node.inputs = inputs;
      node.attrs = Attributes();
      node.attrs.Set("channels", std::move((*picked)[i]));
      ctx.CountRewrite();
    }
    for (size_t k : chain->nodes) {
      if (std::find(chain->picks.begin(), chain->picks.end(), k) == chain->picks.end()) {
        ctx.RemoveNode(k);
      }
    }
    if (concat && uses->OnlyUsedBy(chain->source, static_cast<int>(chain->nodes[0]))) {
      ctx.RemoveNode(*concat);
    }
    uses.reset();
  }
}

}  // namespace accel::core
