// What libaccel itself may do to a Tensor beyond its public API.
#pragma once

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
};

}  // namespace accel::internal
