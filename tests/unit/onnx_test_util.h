// Small builders for the hand-written ONNX models of the unit tests (value types, nodes,
// initializers, attributes, one-node models) and for loading them.
#pragma once

#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "accel/model.h"
#include "accel/session.h"
#include "core/model_impl.h"

namespace accel::testing {

// Dims: a number >= 0 is a dim_value, a string a dim_param, a negative number neither.
struct Dim {
  Dim(int64_t v) : value(v) {}                            // NOLINT: implicit for brace lists
  Dim(const char* p) : value(-1), param(p) {}             // NOLINT
  Dim(std::string p) : value(-1), param(std::move(p)) {}  // NOLINT
  int64_t value;
  std::string param;
};

inline void SetTensorType(onnx::ValueInfoProto* info, const std::string& name, int elem_type,
                          const std::vector<Dim>& dims) {
  info->set_name(name);
  onnx::TypeProto::Tensor* t = info->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem_type);
  onnx::TensorShapeProto* shape = t->mutable_shape();
  for (const Dim& d : dims) {
    onnx::TensorShapeProto::Dimension* dim = shape->add_dim();
    if (d.value >= 0) {
      dim->set_dim_value(d.value);
    } else if (!d.param.empty()) {
      dim->set_dim_param(d.param);
    }
  }
}

// Names the dim_param of a negative dim from its axis.
using SymbolFn = std::function<std::string(size_t axis)>;

// One symbol for every unknown dim (a batch size "N" shared by all inputs).
inline SymbolFn SameSymbol(std::string symbol) {
  return [symbol = std::move(symbol)](size_t) { return symbol; };
}

// A symbol per axis: `prefix` followed by the axis number.
inline SymbolFn AxisSymbol(std::string prefix) {
  return [prefix = std::move(prefix)](size_t axis) { return prefix + std::to_string(axis); };
}

// The same with int64 dims, where each negative dim becomes the dim_param symbol(axis).
inline void SetTensorType(onnx::ValueInfoProto* info, const std::string& name, int elem_type,
                          const std::vector<int64_t>& dims, const SymbolFn& symbol) {
  std::vector<Dim> named;
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    if (dims[axis] < 0) {
      named.emplace_back(symbol(axis));
    } else {
      named.emplace_back(dims[axis]);
    }
  }
  SetTensorType(info, name, elem_type, named);
}

// A value with an element type and no shape (left to shape inference).
inline void SetElemType(onnx::ValueInfoProto* info, const std::string& name, int elem_type) {
  info->set_name(name);
  info->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
}

inline onnx::NodeProto* AddNode(onnx::ModelProto& m, const std::string& name, const std::string& op,
                                const std::vector<std::string>& ins,
                                const std::vector<std::string>& outs) {
  onnx::NodeProto* n = m.mutable_graph()->add_node();
  n->set_name(name);
  n->set_op_type(op);
  for (const std::string& i : ins) n->add_input(i);
  for (const std::string& o : outs) n->add_output(o);
  return n;
}

inline onnx::TensorProto FloatTensor(const std::string& name, const std::vector<int64_t>& dims,
                                     const std::vector<float>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  for (float v : values) t.add_float_data(v);
  return t;
}

inline onnx::TensorProto Int64Tensor(const std::string& name, const std::vector<int64_t>& dims,
                                     const std::vector<int64_t>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) t.add_dims(d);
  for (int64_t v : values) t.add_int64_data(v);
  return t;
}

inline onnx::AttributeProto IntAttr(const std::string& name, int64_t v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(v);
  return a;
}

inline onnx::AttributeProto FloatAttr(const std::string& name, float v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(v);
  return a;
}

inline onnx::AttributeProto IntsAttr(const std::string& name, const std::vector<int64_t>& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a.add_ints(x);
  return a;
}

inline onnx::AttributeProto StringAttr(const std::string& name, const std::string& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::STRING);
  a.set_s(v);
  return a;
}

inline Result<Model> LoadModel(const std::string& bytes, const LoadOptions& options = {}) {
  return Model::LoadFromBuffer(std::as_bytes(std::span(bytes)), options);
}

// Loads a model the test expects to be valid (the test stops with the error otherwise).
inline Model RequireModel(const std::string& bytes, const LoadOptions& options = {}) {
  Result<Model> model = LoadModel(bytes, options);
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  return *model;
}

// Checks that `got` matches `want` element by element within atol + rtol * |want| (a NaN never
// does), reporting how many elements miss.
inline void CheckClose(std::span<const float> got, std::span<const float> want, float atol,
                       float rtol) {
  REQUIRE(got.size() == want.size());
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]))) ++bad;
  }
  CHECK(bad == 0);
}

// `n` floats drawn uniformly from [-1, 1), reproducibly from `seed`.
inline std::vector<float> RandomFloats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Runs `model` `runs` times on float inputs drawn uniformly from [-range, range] (the same draw
// for the same seed, whatever the optimization level) and returns every output of the last run,
// concatenated in output order.
inline std::vector<float> RunOnRandomInputs(const Model& model, unsigned seed, float range,
                                            int runs = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-range, range);
  std::vector<std::vector<float>> buffers;
  std::vector<NamedTensor> inputs;
  buffers.reserve(model.inputs().size());
  for (const ValueInfo& info : model.inputs()) {
    int64_t count = 1;
    for (int64_t d : info.dims) count *= d;
    std::vector<float>& data = buffers.emplace_back(count);
    for (float& v : data) v = dist(rng);
    inputs.push_back({info.name, Tensor::View(DType::kFloat32, Shape(info.dims), data.data())});
  }
  Result<Session> session = Session::Create(model);
  INFO(session.status().ToString());
  REQUIRE(session.ok());
  std::vector<float> all;
  for (int run = 0; run < runs; ++run) {
    Result<std::vector<NamedTensor>> out = session->Run(inputs);
    INFO(out.status().ToString());
    REQUIRE(out.ok());
    all.clear();
    for (const NamedTensor& t : *out) {
      std::span<const float> v = t.tensor.values<float>();
      all.insert(all.end(), v.begin(), v.end());
    }
  }
  return all;
}

// A one-node ONNX model built in memory: graph inputs, float initializers, outputs whose shapes
// are left to inference, and attributes.
struct OneNodeModel {
  onnx::ModelProto model;
  onnx::NodeProto* node;

  OneNodeModel(const std::string& op, int opset) {
    model.set_ir_version(8);
    model.add_opset_import()->set_version(opset);
    model.mutable_graph()->set_name(op);
    node = model.mutable_graph()->add_node();
    node->set_op_type(op);
    node->set_name("n");
  }
  // A negative dim becomes the dim_param <name><axis>.
  void Input(const std::string& name, int type, const std::vector<int64_t>& dims) {
    node->add_input(name);
    SetTensorType(model.mutable_graph()->add_input(), name, type, dims, AxisSymbol(name));
  }
  void Constant(const std::string& name, const std::vector<int64_t>& dims,
                const std::vector<float>& values) {
    node->add_input(name);
    *model.mutable_graph()->add_initializer() = FloatTensor(name, dims, values);
  }
  void Output(const std::string& name, int type = onnx::TensorProto::FLOAT) {
    node->add_output(name);
    SetElemType(model.mutable_graph()->add_output(), name, type);
  }
  void Int(const std::string& name, int64_t value) {
    *node->add_attribute() = IntAttr(name, value);
  }
  void Ints(const std::string& name, const std::vector<int64_t>& values) {
    *node->add_attribute() = IntsAttr(name, values);
  }
  Result<Model> Load() const { return LoadModel(model.SerializeAsString()); }
};

// A float model assembled node by node, with seeded random weights: the optimizer and fusion
// tests build their patterns with it.
struct GraphBuilder {
  onnx::ModelProto m;
  std::mt19937 rng;

  GraphBuilder(int opset, unsigned seed) : rng(seed) {
    m.set_ir_version(8);
    m.add_opset_import()->set_version(opset);
    m.mutable_graph()->set_name("built");
  }
  void Input(const std::string& name, const std::vector<Dim>& dims) {
    SetTensorType(m.mutable_graph()->add_input(), name, onnx::TensorProto::FLOAT, dims);
  }
  void Output(const std::string& name, int type = onnx::TensorProto::FLOAT) {
    SetElemType(m.mutable_graph()->add_output(), name, type);
  }
  // A constant with random values in [lo, hi).
  std::string Weight(const std::string& name, const std::vector<int64_t>& dims, float lo = -0.5f,
                     float hi = 0.5f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    int64_t count = 1;
    for (int64_t d : dims) count *= d;
    std::vector<float> values(count);
    for (float& v : values) v = dist(rng);
    *m.mutable_graph()->add_initializer() = FloatTensor(name, dims, values);
    return name;
  }
  std::string Scalar(const std::string& name, float value) {
    *m.mutable_graph()->add_initializer() = FloatTensor(name, {}, {value});
    return name;
  }
  std::string Ints(const std::string& name, const std::vector<int64_t>& dims,
                   const std::vector<int64_t>& values) {
    *m.mutable_graph()->add_initializer() = Int64Tensor(name, dims, values);
    return name;
  }
  onnx::NodeProto* Node(const std::string& op, const std::vector<std::string>& ins,
                        const std::string& out) {
    return AddNode(m, out + "_node", op, ins, {out});
  }
  // Slice of `x` from `starts` to the end along `axes` with `steps`, its constant inputs named
  // after `out` (exporters give each Slice its own).
  std::string SliceToEnd(const std::string& x, const std::string& out,
                         const std::vector<int64_t>& starts, const std::vector<int64_t>& axes,
                         const std::vector<int64_t>& steps) {
    const int64_t n = static_cast<int64_t>(axes.size());
    Node("Slice",
         {x, Ints(out + "_starts", {n}, starts),
          Ints(out + "_ends", {n}, std::vector<int64_t>(axes.size(), kEnd)),
          Ints(out + "_axes", {n}, axes), Ints(out + "_steps", {n}, steps)},
         out);
    return out;
  }
  static constexpr int64_t kEnd = int64_t{1} << 40;
  std::string Bytes() const { return m.SerializeAsString(); }
  // Loads the model at an optimization level, with some passes disabled; it must be valid.
  Model Require(int level, std::vector<std::string> disabled_passes = {}) const {
    LoadOptions options;
    options.optimization_level = level;
    options.disabled_passes = std::move(disabled_passes);
    return RequireModel(Bytes(), options);
  }
};

// How many rewrites optimizer pass `pass` counted when `model` was loaded; -1 when it did not run.
inline int PassRewrites(const Model& model, std::string_view pass) {
  for (const core::PassReport& r : model.internal_impl().optimizer_report) {
    if (r.name == pass) return r.rewrites;
  }
  return -1;
}

// Loads `g` with every pass, checks that `pass` rewrote `want` times, and that two runs on
// random inputs give the unoptimized model's outputs (level 0: every node as written).
inline void CheckPassAgainstUnoptimized(const GraphBuilder& g, std::string_view pass, int want,
                                        float atol, float rtol) {
  const Model optimized = g.Require(2);
  CHECK(PassRewrites(optimized, pass) == want);
  const std::vector<float> got = RunOnRandomInputs(optimized, 7, 2.0f, 2);
  const std::vector<float> expected = RunOnRandomInputs(g.Require(0), 7, 2.0f, 2);
  CheckClose(got, expected, atol, rtol);
}

}  // namespace accel::testing
