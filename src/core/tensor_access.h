// What libaccel itself may do to a Tensor beyond its public API.
#pragma once

#include <memory>
#include <utility>

#include "accel/tensor.h"

namespace accel::internal {

struct TensorAccess {
  // Makes `t` a view of `data`, keeping its dtype and shape: re-pointing a prebuilt view costs
  // no allocation, where building a new Tensor allocates its shape (run plans' views of the
  // caller's inputs are re-pointed every run).
  static void Repoint(Tensor& t, void* data) {
    t.data_ = data;
    t.owner_.reset();
  }
  // An owning tensor over `data`, which stays valid while `owner` lives: a tensor inside a
  // block shared with others (the model's constants are read into one block).
  static Tensor Adopt(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner) {
    Tensor t;
    t.dtype_ = dtype;
    t.shape_ = std::move(shape);
    t.data_ = data;
    t.owner_ = std::move(owner);
    return t;
  }
};

}  // namespace accel::internal
