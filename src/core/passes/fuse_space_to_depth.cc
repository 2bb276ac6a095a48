// Turns YOLO's Focus stem into one accel.SpaceToDepth node (core/fused_ops.h): a channel Concat
// of step-b Slices of one image x, each taking the rows from r and the columns from c,
//   Concat(x[..., 0::2, 0::2], x[..., 1::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 1::2]),
// exported as a row Slice followed by a column Slice (or one Slice over both axes). As separate
// nodes every slice writes an intermediate and the Concat copies everything again; the fused
// kernel reads the image once and writes the result once.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/passes/fusion_util.h"
#include "core/shape_utils.h"

namespace accel::core {

namespace {

// What a chain of Slices from x takes along the two spatial axes.
struct Pick {
  int64_t step = 0;
  int64_t start[2] = {-1, -1};  // rows, columns
};

std::optional<std::vector<int64_t>> FixedInts(const Graph& g, int v) {
  if (v == kNoValue || !IsFixedConstant(g, v)) return std::nullopt;
  Result<std::vector<int64_t>> ints = ReadInts(*g.values[v].constant);
  if (!ints.ok()) return std::nullopt;
  return *std::move(ints);
}

// Adds one Slice (opset 10+, constant starts/ends/axes/steps over a rank-4 input of known
// dims) to `pick`: each axis it slices must be a spatial one not sliced before, taken from a
// start inside the block to the end with the common step.
bool AddSlice(const Graph& g, const Node& slice, Pick& pick) {
  if (!fusion::IsOp(slice, "Slice") || slice.opset < 10 || slice.inputs.size() < 5) return false;
  const TensorType& in = g.values[slice.inputs[0]].type;
  if (!in.fully_known() || in.rank() != 4) return false;
  std::optional<std::vector<int64_t>> starts = FixedInts(g, slice.inputs[1]);
  std::optional<std::vector<int64_t>> ends = FixedInts(g, slice.inputs[2]);
  std::optional<std::vector<int64_t>> axes = FixedInts(g, slice.inputs[3]);
  std::optional<std::vector<int64_t>> steps = FixedInts(g, slice.inputs[4]);
  if (!starts || !ends || !axes || !steps || starts->size() != axes->size() ||
      ends->size() != axes->size() || steps->size() != axes->size()) {
    return false;
  }
  for (size_t i = 0; i < axes->size(); ++i) {
    const int64_t axis = (*axes)[i] < 0 ? (*axes)[i] + 4 : (*axes)[i];
    const int64_t step = (*steps)[i];
    if (axis < 2 || axis > 3 || step < 2 || (pick.step != 0 && step != pick.step)) return false;
    int64_t& start = pick.start[axis - 2];
    if (start >= 0 || (*starts)[i] < 0 || (*starts)[i] >= step || (*ends)[i] < in.dims[axis]) {
      return false;
    }
    pick.step = step;
    start = (*starts)[i];
  }
  return true;
}

// The image x that Concat input v slices, with the pick, when v comes from one or two Slices
// whose intermediate result the caller does not receive. Collects the Slices.
std::optional<Pick> TracePick(const Graph& g, const ValueUses& uses, int v, int* x,
                              std::vector<int>& slices) {
  Pick pick;
  for (int depth = 0; depth < 2; ++depth) {
    const int p = g.values[v].producer;
    if (p == kNoValue || !AddSlice(g, g.nodes[p], pick)) break;
    if (depth == 1 && uses.is_graph_output(v)) return std::nullopt;
    slices.push_back(p);
    v = g.nodes[p].inputs[0];
    if (pick.start[0] >= 0 && pick.start[1] >= 0) {
      *x = v;
      return pick;
    }
  }
  return std::nullopt;
}

}  // namespace

Status RunFuseSpaceToDepth(Graph& g, PassContext& ctx) {
  const ValueUses uses(g);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& concat = g.nodes[n];
    if (!fusion::IsOp(concat, "Concat") || concat.inputs.size() < 2) continue;
    Result<int64_t> axis = concat.attrs.GetInt("axis", 0);
    if (!axis.ok() || (*axis != 1 && *axis != -3)) continue;
    int x = kNoValue;
    int64_t step = 0;
    std::vector<int64_t> offsets;
    std::vector<int> slices;
    bool ok = true;
    for (int in : concat.inputs) {
      int from = kNoValue;
      std::optional<Pick> pick = in == kNoValue || !uses.OnlyUsedBy(in, static_cast<int>(n))
                                     ? std::nullopt
                                     : TracePick(g, uses, in, &from, slices);
      if (!pick || (x != kNoValue && from != x) || (step != 0 && pick->step != step)) {
        ok = false;
        break;
      }
      x = from;
      step = pick->step;
      offsets.push_back(pick->start[0]);
      offsets.push_back(pick->start[1]);
    }
    // Every group must have H/b x W/b elements, as Slice gives them only when b divides both.
    const TensorType& image = ok ? g.values[x].type : TensorType{};
    if (!ok || !image.fully_known() || image.dims[2] % step != 0 || image.dims[3] % step != 0) {
      continue;
    }
    // A row Slice shared by two column Slices appears twice; it is removed once.
    std::sort(slices.begin(), slices.end());
    slices.erase(std::unique(slices.begin(), slices.end()), slices.end());
    // Each shared intermediate must be read only by Slices of this Concat.
    bool contained = true;
    for (int s : slices) {
      for (const ValueUse& u : uses.consumers(g.nodes[s].outputs[0])) {
        contained &= u.node == static_cast<int>(n) ||
                     std::binary_search(slices.begin(), slices.end(), u.node);
      }
    }
    if (!contained) continue;
    for (int s : slices) ctx.RemoveNode(s);
    concat.op_type = "SpaceToDepth";
    concat.domain = std::string(kAccelDomain);
    concat.opset = 1;
    concat.inputs = {x};
    concat.attrs = Attributes();
    concat.attrs.Set("blocksize", step);
    concat.attrs.Set("offsets", std::move(offsets));
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
