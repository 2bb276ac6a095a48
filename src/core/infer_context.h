// What a shape rule sees: input types (and input values where known), attributes, opset.
//
// The same rule runs at load time, when dims may be unknown (-1) and only constant inputs have
// values, and at run time, when every input shape and value is known. A rule must therefore
// accept unknown dims and missing values, and produce the most precise type it can.
#pragma once

#include <span>
#include <vector>

#include "accel/status.h"
#include "accel/tensor.h"
#include "core/attributes.h"
#include "core/graph.h"

namespace accel::core {

class InferContext {
 public:
  InferContext(const Attributes& attrs, int opset, std::vector<const TensorType*> input_types,
               std::vector<const Tensor*> input_values, size_t num_outputs)
      : attrs_(attrs),
        opset_(opset),
        input_types_(std::move(input_types)),
        input_values_(std::move(input_values)),
        outputs_(num_outputs) {}

  const Attributes& attrs() const { return attrs_; }
  int opset() const { return opset_; }

  size_t num_inputs() const { return input_types_.size(); }
  // False for an omitted optional input (or an index past the end).
  bool has_input(size_t i) const { return i < input_types_.size() && input_types_[i]; }
  const TensorType& input_type(size_t i) const { return *input_types_[i]; }
  // The input's contents when known (constants at load time, every input at run time).
  const Tensor* input_value(size_t i) const {
    return i < input_values_.size() ? input_values_[i] : nullptr;
  }

  size_t num_outputs() const { return outputs_.size(); }
  void set_output(size_t i, TensorType type) {
    if (i < outputs_.size()) outputs_[i] = std::move(type);
  }
  void set_output(size_t i, DType dtype, std::vector<int64_t> dims) {
    set_output(i, TensorType::Known(dtype, std::move(dims)));
  }
  const std::vector<TensorType>& outputs() const { return outputs_; }

 private:
  const Attributes& attrs_;
  int opset_;
  std::vector<const TensorType*> input_types_;
  std::vector<const Tensor*> input_values_;
  std::vector<TensorType> outputs_;
};

// A shape rule. Returns an error (without the node label; the caller adds it) when the inputs
// cannot be valid for this op, e.g. mismatched ranks or broadcast failures.
using InferFn = Status (*)(InferContext& ctx);

}  // namespace accel::core
