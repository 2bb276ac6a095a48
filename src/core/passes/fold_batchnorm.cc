// Folds an inference BatchNormalization into the Conv, ConvTranspose, Gemm or MatMul (constant
// 2-D weights, BN over the last axis) that feeds it: y = (x - mean) * s + shift with
// s = scale / sqrt(var + eps) becomes weights scaled per output channel and a new bias.
//
// Initializers that are also graph inputs (IR >= 4 "overridable" constants; exporters such as
// older PyTorch list every weight that way) fold too when only the Conv/BN reads them: the
// optimized model then no longer lists them as inputs, so feeding one is an error that names it
// instead of being silently ignored. Load with optimization_level 0 or disable this pass to keep
// them overridable.
#include <algorithm>
#include <cmath>

#include "core/constant_block.h"
#include "core/optimizer.h"

namespace accel::core {

namespace {

// Per-channel multiplier and offset of an inference BatchNormalization: y = x * mul + add.
struct ChannelAffine {
  std::vector<double> mul;
  std::vector<double> add;
};

// Input i of node n when it is a float32 constant the fold may consume: a fixed constant, or an
// overridable initializer (a graph input with a default) that only node n reads.
const Tensor* FixedFloat(const Graph& g, const ValueUses& uses, size_t n, size_t i) {
  const Node& node = g.nodes[n];
  if (i >= node.inputs.size()) return nullptr;
  const int v = node.inputs[i];
  if (v == kNoValue || !g.values[v].constant) return nullptr;
  if (!IsFixedConstant(g, v) && !uses.OnlyUsedBy(v, static_cast<int>(n))) return nullptr;
  const Tensor& t = *g.values[v].constant;
  return t.dtype() == DType::kFloat32 ? &t : nullptr;
}

// Once a fold has consumed node n's inputs, the overridable ones among them stop being graph
// inputs: a caller feeding one gets an error rather than a value nothing reads.
void FreezeInputs(Graph& g, const std::vector<int>& consumed) {
  std::erase_if(g.inputs, [&](int v) {
    return g.values[v].constant && std::find(consumed.begin(), consumed.end(), v) != consumed.end();
  });
}

// The BN's affine form when it is a foldable inference BN with constant [C] parameters.
std::optional<ChannelAffine> ReadBatchNorm(const Graph& g, const ValueUses& uses, size_t n,
                                           int version) {
  const Node& bn = g.nodes[n];
  if (bn.inputs.size() != 5) return std::nullopt;
  for (size_t i = 1; i < bn.outputs.size(); ++i) {
    if (bn.outputs[i] != kNoValue) return std::nullopt;  // training outputs
  }
  // The same inference conditions as the BatchNormalization kernel.
  auto attr_is = [&](const char* name, int64_t fallback, int64_t want) {
    Result<int64_t> v = bn.attrs.GetInt(name, fallback);
    return v.ok() && *v == want;
  };
  if (version < 7 && attr_is("is_test", 0, 0)) return std::nullopt;
  if (version >= 14 && !attr_is("training_mode", 0, 0)) return std::nullopt;
  if (version < 9 && !attr_is("spatial", 1, 1)) return std::nullopt;
  Result<float> eps = bn.attrs.GetFloat("epsilon", 1e-5f);
  if (!eps.ok()) return std::nullopt;
  const Tensor* p[4];
  for (int i = 0; i < 4; ++i) {
    p[i] = FixedFloat(g, uses, n, i + 1);
    if (!p[i] || p[i]->rank() != 1) return std::nullopt;
  }
  const int64_t c = p[0]->element_count();
  for (const Tensor* t : p) {
    if (t->element_count() != c) return std::nullopt;
  }
  ChannelAffine a{std::vector<double>(c), std::vector<double>(c)};
  for (int64_t i = 0; i < c; ++i) {
    const double var = p[3]->values<float>()[i];
    a.mul[i] = p[0]->values<float>()[i] / std::sqrt(var + *eps);
    a.add[i] = p[1]->values<float>()[i] - p[2]->values<float>()[i] * a.mul[i];
  }
  return a;
}

int AddConstant(Graph& g, const std::string& base, Tensor t) {
  int v = AddUniqueValue(g, base);
  g.values[v].type = TensorType::Known(t.dtype(), t.shape());
  g.values[v].constant = std::move(t);
  return v;
}

// Node n's weights (input 1, `w`), ready to be scaled. The importer's own copy, when nothing
// else reads it (no other node, no other input of this one), is scaled where it lies: no fresh
// memory to fault in (~0.7 ms per MiB here), and the constant block stays live. Otherwise the
// node gets a clone, named `<weights>_bnfold`. Tensor copies share their storage, so writing the
// result writes the node's input.
Result<Tensor> WeightsToScale(Graph& g, const ValueUses& uses, size_t n, const Tensor& w) {
  const int wv = g.nodes[n].inputs[1];
  if (uses.OnlyUsedBy(wv, static_cast<int>(n)) && std::ranges::count(g.nodes[n].inputs, wv) == 1 &&
      InConstantBlock(g, w)) {
    return w;
  }
  ACCEL_ASSIGN_OR_RETURN(Tensor copy, w.Clone());
  // `w` may point into g.values, which AddConstant can reallocate: not used past here.
  g.nodes[n].inputs[1] = AddConstant(g, g.values[wv].name + "_bnfold", copy);
  return copy;
}

// new_bias[c] = old_bias[c] * mul[c] + add[c]; old_bias may be null (zero).
Result<Tensor> FoldedBias(const std::vector<double>& old_bias, const ChannelAffine& a) {
  std::vector<float> b(a.mul.size());
  for (size_t c = 0; c < b.size(); ++c) {
    const double old = old_bias.empty() ? 0.0 : old_bias[c];
    b[c] = static_cast<float>(old * a.mul[c] + a.add[c]);
  }
  return Tensor::FromVector<float>(DType::kFloat32, {static_cast<int64_t>(b.size())},
                                   std::span<const float>(b));
}

std::vector<double> ToDouble(const Tensor* t) {
  if (!t) return {};
  std::span<const float> v = t->values<float>();
  return {v.begin(), v.end()};
}

// Conv: weights [C, Cin/g, k...]. ConvTranspose: weights [Cin, C/g, k...], output channel of
// (ci, m) is (ci / (Cin/g)) * (C/g) + m. Returns false when the shapes do not fit.
Result<bool> FoldConv(Graph& g, const ValueUses& uses, size_t n, const ChannelAffine& a) {
  Node& conv = g.nodes[n];
  const Tensor* w = FixedFloat(g, uses, n, 1);
  if (!w || w->rank() < 3) return false;
  const Tensor* bias = nullptr;
  if (conv.inputs.size() > 2 && conv.inputs[2] != kNoValue) {
    bias = FixedFloat(g, uses, n, 2);
    if (!bias || bias->element_count() != static_cast<int64_t>(a.mul.size())) return false;
  }
  const bool transposed = conv.op_type == "ConvTranspose";
  ACCEL_ASSIGN_OR_RETURN(int64_t group, conv.attrs.GetInt("group", 1));
  const int64_t channels = static_cast<int64_t>(a.mul.size());
  const int64_t d0 = w->shape()[0], d1 = w->shape()[1];
  if (group <= 0 || d0 % group != 0) return false;
  if (transposed ? d1 * group != channels : d0 != channels) return false;
  const int64_t inner = w->element_count() / (d0 * d1);
  const std::vector<double> old_bias = ToDouble(bias);
  const std::string base = g.values[conv.inputs[1]].name;
  ACCEL_ASSIGN_OR_RETURN(Tensor nw, WeightsToScale(g, uses, n, *w));
  float* dst = nw.data_as<float>();
  // One scale per run of equal channel: a Conv's whole filter, a ConvTranspose's kernel. Long
  // runs vectorize (1x1 filters are runs of one element otherwise).
  const int64_t run = transposed ? inner : d1 * inner;
  for (int64_t r = 0; r < d0 * d1 * inner / run; ++r) {
    const int64_t i0 = transposed ? r / d1 : r, i1 = transposed ? r % d1 : 0;
    const double m = a.mul[transposed ? (i0 / (d0 / group)) * d1 + i1 : i0];
    float* row = dst + r * run;
    for (int64_t k = 0; k < run; ++k) row[k] = static_cast<float>(row[k] * m);
  }
  ACCEL_ASSIGN_OR_RETURN(Tensor nb, FoldedBias(old_bias, a));
  conv.inputs.resize(3, kNoValue);
  conv.inputs[2] = AddConstant(g, base + "_bnfold_bias", std::move(nb));
  return true;
}

// Scales column m of a [K, M] matrix (or row m of [M, K] when transposed) by mul[m] * alpha.
void ScaleColumns(Tensor& w, bool trans, double alpha, const ChannelAffine& a) {
  const int64_t rows = w.shape()[0], cols = w.shape()[1];
  float* d = w.data_as<float>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      d[r * cols + c] = static_cast<float>(d[r * cols + c] * alpha * a.mul[trans ? r : c]);
    }
  }
}

Result<bool> FoldGemm(Graph& g, const ValueUses& uses, size_t n, const ChannelAffine& a) {
  Node& gemm = g.nodes[n];
  const Tensor* w = FixedFloat(g, uses, n, 1);
  const int64_t m = static_cast<int64_t>(a.mul.size());
  if (!w || w->rank() != 2) return false;
  ACCEL_ASSIGN_OR_RETURN(int64_t trans_b, gemm.attrs.GetInt("transB", 0));
  ACCEL_ASSIGN_OR_RETURN(float alpha, gemm.attrs.GetFloat("alpha", 1.0f));
  ACCEL_ASSIGN_OR_RETURN(float beta, gemm.attrs.GetFloat("beta", 1.0f));
  if (w->shape()[trans_b ? 0 : 1] != m) return false;
  // Only a C that is constant along the batch axis ([M], [1,M], scalar) can become a bias.
  std::vector<double> c_vec;
  if (gemm.inputs.size() > 2 && gemm.inputs[2] != kNoValue) {
    const Tensor* c = FixedFloat(g, uses, n, 2);
    if (!c || c->rank() > 2 || (c->rank() == 2 && c->shape()[0] != 1)) return false;
    const int64_t n = c->element_count();
    if (n != m && n != 1) return false;
    for (int64_t i = 0; i < m; ++i) c_vec.push_back(beta * c->values<float>()[n == 1 ? 0 : i]);
  }
  const std::string base = g.values[gemm.inputs[1]].name;
  ACCEL_ASSIGN_OR_RETURN(Tensor nw, WeightsToScale(g, uses, n, *w));
  ScaleColumns(nw, trans_b != 0, alpha, a);
  ACCEL_ASSIGN_OR_RETURN(Tensor nb, FoldedBias(c_vec, a));
  gemm.inputs.resize(3, kNoValue);
  gemm.inputs[2] = AddConstant(g, base + "_bnfold_bias", std::move(nb));
  gemm.attrs.Set("alpha", 1.0f);
  gemm.attrs.Set("beta", 1.0f);
  return true;
}

}  // namespace

Status RunFoldBatchNorm(Graph& g, PassContext& ctx) {
  ValueUses uses(g);
  for (size_t b = 0; b < g.nodes.size(); ++b) {
    Node& bn = g.nodes[b];
    if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.outputs.empty()) continue;
    const int x = bn.inputs.empty() ? kNoValue : bn.inputs[0];
    if (x == kNoValue) continue;
    const int p = g.values[x].producer;
    if (p == kNoValue || ctx.IsRemoved(p) || !uses.OnlyUsedBy(x, static_cast<int>(b))) continue;
    Node& prod = g.nodes[p];
    if (!prod.domain.empty() || prod.outputs.size() != 1) continue;
    const TensorType& xt = g.values[x].type;
    if (xt.dtype != DType::kFloat32 || !xt.has_shape) continue;
    std::optional<ChannelAffine> a = ReadBatchNorm(g, uses, b, ctx.op_version(b));
    if (!a) continue;
    const int64_t channels = static_cast<int64_t>(a->mul.size());
    if (xt.rank() < 2 || (xt.dims[1] >= 0 && xt.dims[1] != channels)) continue;

    // Everything the fold may consume, read before it rewires the producer's inputs.
    std::vector<int> consumed(bn.inputs.begin() + 1, bn.inputs.end());
    consumed.insert(consumed.end(), prod.inputs.begin() + std::min<size_t>(1, prod.inputs.size()),
                    prod.inputs.end());
    bool folded = false;
    const std::string& op = prod.op_type;
    if (op == "Conv" || op == "ConvTranspose") {
      ACCEL_ASSIGN_OR_RETURN(folded, FoldConv(g, uses, p, *a));
    } else if (op == "Gemm" && xt.rank() == 2) {
      ACCEL_ASSIGN_OR_RETURN(folded, FoldGemm(g, uses, p, *a));
    } else if (op == "MatMul" && xt.rank() == 2 && bn.opset >= 7) {
      // No bias input: the BN becomes an Add of the folded shift.
      const Tensor* w = FixedFloat(g, uses, p, 1);
      if (w && w->rank() == 2 && w->shape()[1] == channels) {
        const std::string base = g.values[prod.inputs[1]].name;
        ACCEL_ASSIGN_OR_RETURN(Tensor nw, WeightsToScale(g, uses, p, *w));
        ScaleColumns(nw, false, 1.0, *a);
        ACCEL_ASSIGN_OR_RETURN(Tensor nb, FoldedBias({}, *a));
        bn.op_type = "Add";
        bn.attrs = Attributes();
        bn.inputs = {x, AddConstant(g, base + "_bnfold_bias", std::move(nb))};
        consumed.resize(5);  // the BN's parameters and the MatMul's weights
        FreezeInputs(g, consumed);
        ctx.CountRewrite();
      }
      continue;
    }
    if (!folded) continue;
    FreezeInputs(g, consumed);
    // The producer now writes the BN's output, which keeps its name.
    g.nodes[p].outputs[0] = g.nodes[b].outputs[0];
    ctx.RemoveNode(b);
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
