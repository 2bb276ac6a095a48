// Chooses the channel-blocked layout (core/layout.h) for the 4-D float32 activations that flow
// between ops able to run on it, and inserts Reorder nodes only where a blocked value meets an
// op that needs plain data (or the reverse).
//
// Two rewrites come first: zero Pads fold into the AveragePool after them
// (passes/fold_pad_pool.h) and channel shuffles become ChannelPicks (passes/channel_pick.h).
//
// One forward walk in topological order decides each node's output layout from its op's
// LayoutSupport and its inputs' layouts:
// - Conv: blocked output when some consumer can take blocked data; a plain input is reordered
//   to blocked unless it has fewer channels than one block (an image, a space-to-depth stem):
//   oneDNN's jit kernels read those from plain NCHW directly, and refuse padded ones but for
//   1x1 convs. Such an input is required plain, and its consumer does not count as taking
//   blocked data.
// - pooling: follows its input.
// - elementwise ops and channel Concat: blocked when an input is blocked and every other input
//   is blocked too, can be reordered to blocked (same channel count) or is one broadcast
//   element; otherwise plain.
// - ChannelPick (the channel shuffle and split, fused first by FuseChannelPicks): blocked when
//   an input is blocked and every input can be; its inputs then all are. A channel Concat
//   that could be blocked but for inputs with padded blocks becomes a ChannelPick when some
//   consumer takes blocked data.
// - everything else, and every graph output, is plain.
// The rule is greedy: it does not weigh a reorder's cost against the blocked op's gain. What it
// buys is measured by the benchmarks (benchmarks/README.md).
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/optimizer.h"
#include "core/passes/channel_pick.h"
#include "core/passes/fold_pad_pool.h"

namespace accel::core {

namespace {

// A float32 rank-4 value whose channel count is known: the only kind that can be blocked.
bool Blockable(const Graph& g, int v) {
  if (v == kNoValue) return false;
  const TensorType& t = g.values[v].type;
  return t.dtype == DType::kFloat32 && t.has_shape && t.rank() == 4 && t.dims[1] > 0;
}

int64_t Channels(const Graph& g, int v) { return g.values[v].type.dims[1]; }

// Every dim is 1: broadcasts against a blocked tensor's physical shape as it is.
bool IsOneElement(const Graph& g, int v) {
  const TensorType& t = g.values[v].type;
  if (!t.has_shape) return false;
  for (int64_t d : t.dims) {
    if (d != 1) return false;
  }
  return true;
}

// oneDNN's jit convolutions take blocked data for plain and depthwise convs and for groups
// whose channel counts fill whole blocks.
bool ConvCanBlock(const Graph& g, const Node& node) {
  if (node.inputs.size() < 2 || !Blockable(g, node.inputs[0]) || !Blockable(g, node.outputs[0])) {
    return false;
  }
  const TensorType& w = g.values[node.inputs[1]].type;
  if (!w.has_shape || w.rank() != 4) return false;
  Result<int64_t> group = node.attrs.GetInt("group", 1);
  if (!group.ok() || *group < 1) return false;
  const int64_t c = Channels(g, node.inputs[0]), m = Channels(g, node.outputs[0]);
  if (*group == 1 || (*group == c && m == c)) return true;
  return (c / *group) % kChannelBlock == 0 && (m / *group) % kChannelBlock == 0;
}

// oneDNN's jit kernels read a conv input of fewer channels than one block from plain NCHW only
// (its first-layer kernel), except 1x1 convs, which pad the block. Blocked, such an input falls
// to brgconv with reorders around it: as fast, but ~1.5 ms to create, ~4 for the first one.
bool ConvWantsPlainInput(const Graph& g, const Node& node) {
  if (!ConvCanBlock(g, node) || Channels(g, node.inputs[0]) >= kChannelBlock) return false;
  const TensorType& w = g.values[node.inputs[1]].type;
  Result<int64_t> group = node.attrs.GetInt("group", 1);
  return group.ok() && *group == 1 && w.dims[2] * w.dims[3] > 1;
}

// The Concat axis as a non-negative number for a rank-4 value, or -1.
int64_t ConcatAxis(const Node& node) {
  Result<int64_t> axis = node.attrs.GetInt("axis", 1);
  if (!axis.ok()) return -1;
  return *axis < 0 ? *axis + 4 : *axis;
}

class LayoutPlanner {
 public:
  LayoutPlanner(Graph& g, PassContext& ctx) : g_(g), ctx_(ctx), uses_(g) {}

  Status Run() {
    const size_t original = g_.nodes.size();
    // Reorders are appended while nodes are referenced: at most one per input slot.
    size_t slots = 0;
    for (const Node& node : g_.nodes) slots += node.inputs.size();
    g_.nodes.reserve(original + slots);
    for (size_t n = 0; n < original; ++n) {
      if (!ctx_.IsRemoved(n)) PlanNode(n, Support(n));
    }
    return Status::Ok();
  }

 private:
  // What node n's op can do with layouts. Nodes FuseChannelPicks rewrote still have the OpDef
  // of the op they replaced bound.
  LayoutSupport Support(size_t n) const {
    const Node& node = g_.nodes[n];
    if (node.domain == "accel" && node.op_type == "ChannelPick") return LayoutSupport::kChannelPick;
    const OpDef* def = ctx_.op_def(n);
    return def ? def->layouts : LayoutSupport::kPlainOnly;
  }

  void PlanNode(size_t n, LayoutSupport support) {
    switch (support) {
      case LayoutSupport::kConv:
        return PlanConv(n);
      case LayoutSupport::kSpatial:
        return PlanSpatial(n);
      case LayoutSupport::kElementwise:
        return PlanElementwise(n, false);
      case LayoutSupport::kConcat:
        return PlanElementwise(n, true);
      case LayoutSupport::kChannelPick:
        return PlanChannelPick(n);
      case LayoutSupport::kPlainOnly:
      case LayoutSupport::kReorder:
        return RequireAll(n, Layout::kPlain);
    }
  }

  void PlanConv(size_t n) {
    Node& node = g_.nodes[n];
    if (!ConvCanBlock(g_, node)) return RequireAll(n, Layout::kPlain);
    const int x = node.inputs[0];
    if (Channels(g_, x) >= kChannelBlock) Require(n, 0, Layout::kBlocked);
    if (ConvWantsPlainInput(g_, node)) Require(n, 0, Layout::kPlain);
    // Weights and bias are read as plain tensors, also when a node computes them from blocked
    // data (weights scaled by a squeeze-excitation vector).
    for (size_t i = 1; i < node.inputs.size() && i < 3; ++i) Require(n, i, Layout::kPlain);
    // A fused input scale [1, C, 1, 1] is read as is: blocked, its channels are in order too.
    const Layout out = ConsumersTakeBlocked(node.outputs[0]) ? Layout::kBlocked : Layout::kPlain;
    SetOutput(n, out);
    // A fused residual addend is added in the output's layout.
    if (node.inputs.size() > 3) Require(n, 3, out);
  }

  void PlanSpatial(size_t n) {
    Node& node = g_.nodes[n];
    const bool one_output = node.outputs.size() == 1 || node.outputs[1] == kNoValue;
    if (!one_output || !Blockable(g_, node.outputs[0]) || uses_.is_graph_output(node.outputs[0]) ||
        Is(node.inputs[0], Layout::kPlain)) {
      return RequireAll(n, Layout::kPlain);
    }
    SetOutput(n, Layout::kBlocked);
  }

  // Elementwise ops broadcast per channel; Concat joins along channels, which in the blocked
  // layout is a plain concatenation of whole channel blocks when every input but the last fills
  // its blocks.
  void PlanElementwise(size_t n, bool concat) {
    Node& node = g_.nodes[n];
    const int y = node.outputs[0];
    bool any_blocked = false, ok = Blockable(g_, y) && !uses_.is_graph_output(y);
    bool whole_blocks = true;  // every concat input but the last fills its blocks
    if (concat && ConcatAxis(node) != 1) ok = false;
    for (size_t i = 0; ok && i < node.inputs.size(); ++i) {
      const int v = node.inputs[i];
      if (v == kNoValue) continue;
      any_blocked |= Is(v, Layout::kBlocked);
      if (concat) {
        ok = Blockable(g_, v);
        whole_blocks &= i + 1 == node.inputs.size() || Channels(g_, v) % kChannelBlock == 0;
      } else {
        ok = (Blockable(g_, v) && Channels(g_, v) == Channels(g_, y)) || IsOneElement(g_, v);
      }
    }
    // Worth it only when the result is read blocked: into plain-only ops, converting each input
    // is cheaper than picking all channels and converting the result (yolox_nano's heads).
    if (ok && any_blocked && !whole_blocks) {
      return ConsumersTakeBlocked(y) ? ConcatAsPick(n) : RequireAll(n, Layout::kPlain);
    }
    if (!ok || !any_blocked) return RequireAll(n, Layout::kPlain);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int v = node.inputs[i];
      if (v != kNoValue && (concat || !IsOneElement(g_, v))) Require(n, i, Layout::kBlocked);
    }
    // The physical concatenation axis is also 1; the attribute is normalized so that a negative
    // axis does not count from the end of the 5-D physical shape.
    if (concat) node.attrs.Set("axis", int64_t{1});
    SetOutput(n, Layout::kBlocked);
  }

  // A channel Concat of blocked inputs with padded blocks (24 + 24 channels) cannot append
  // whole blocks: it becomes a ChannelPick of all channels in order, which runs blocked.
  void ConcatAsPick(size_t n) {
    Node& node = g_.nodes[n];
    std::vector<int64_t> channels(Channels(g_, node.outputs[0]));
    for (size_t c = 0; c < channels.size(); ++c) channels[c] = static_cast<int64_t>(c);
    node.op_type = "ChannelPick";
    node.domain = "accel";
    node.opset = 1;
    node.attrs = Attributes();
    node.attrs.Set("channels", std::move(channels));
    ctx_.CountRewrite();
    PlanChannelPick(n);
  }

  // Picks copy whole planes from any channel into any channel, so padding is no obstacle.
  void PlanChannelPick(size_t n) {
    const Node& node = g_.nodes[n];
    const int y = node.outputs[0];
    bool any_blocked = false, ok = Blockable(g_, y) && !uses_.is_graph_output(y);
    for (int v : node.inputs) {
      ok = ok && Blockable(g_, v);
      any_blocked |= Is(v, Layout::kBlocked);
    }
    const Layout layout = ok && any_blocked ? Layout::kBlocked : Layout::kPlain;
    RequireAll(n, layout);
    SetOutput(n, layout);
  }

  bool Is(int v, Layout layout) const { return v != kNoValue && g_.values[v].layout == layout; }

  // Some consumer runs on blocked data (or passes it on), so producing it blocked can pay off.
  bool ConsumersTakeBlocked(int v) const {
    if (uses_.is_graph_output(v)) return false;
    for (const ValueUse& use : uses_.consumers(v)) {
      if (ctx_.IsRemoved(use.node)) continue;
      const LayoutSupport s = Support(use.node);
      if (s == LayoutSupport::kConv && use.input != 0 && use.input != 3 && use.input != 4) {
        continue;
      }
      if (s == LayoutSupport::kConv && use.input == 0 &&
          ConvWantsPlainInput(g_, g_.nodes[use.node])) {
        continue;
      }
      if (s != LayoutSupport::kPlainOnly && s != LayoutSupport::kReorder) return true;
    }
    return false;
  }

  void SetOutput(size_t n, Layout layout) {
    const int y = g_.nodes[n].outputs[0];
    if (g_.values[y].layout != layout) ctx_.CountRewrite();
    g_.values[y].layout = layout;
  }

  void RequireAll(size_t n, Layout layout) {
    for (size_t i = 0; i < g_.nodes[n].inputs.size(); ++i) Require(n, i, layout);
  }

  // Points input i of node n at a copy of its value in `layout`, adding one Reorder per value
  // and layout.
  void Require(size_t n, size_t i, Layout layout) {
    const int v = g_.nodes[n].inputs[i];
    if (v == kNoValue || g_.values[v].layout == layout) return;
    auto [it, added] = converted_.try_emplace({v, layout}, kNoValue);
    if (added) {
      const std::string base = g_.values[v].name + "_" + LayoutName(layout);
      it->second = AddUniqueValue(g_, base);
      g_.values[it->second].type = g_.values[v].type;
      g_.values[it->second].layout = layout;
      Node reorder;
      reorder.name = base;
      reorder.op_type = "Reorder";
      reorder.domain = "accel";
      reorder.opset = 1;
      reorder.inputs = {v};
      reorder.outputs = {it->second};
      g_.nodes.push_back(std::move(reorder));
      ctx_.CountRewrite();
    }
    g_.nodes[n].inputs[i] = it->second;
  }

  Graph& g_;
  PassContext& ctx_;
  const ValueUses uses_;
  std::map<std::pair<int, Layout>, int> converted_;
};

}  // namespace

Status RunPropagateLayouts(Graph& g, PassContext& ctx) {
  FoldPadIntoAveragePool(g, ctx);
  FuseChannelPicks(g, ctx);
  return LayoutPlanner(g, ctx).Run();
}

}  // namespace accel::core
