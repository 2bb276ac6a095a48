// accel::Session: runs a Model.
//
// Thread rules: a Session is used by one thread at a time (it owns the activations and the
// per-shape kernel state of its runs). To run one Model on several threads concurrently, create
// one Session per thread from the same Model; they share the Model's weights.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "accel/model.h"
#include "accel/status.h"
#include "accel/tensor.h"

namespace accel {

namespace internal {
class SessionImpl;
}

struct SessionOptions {
  // Threads used inside one run. 0 = the number of physical cores.
  int num_threads = 0;
};

class Session {
 public:
  static Result<Session> Create(const Model& model, const SessionOptions& options = {});

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Runs the model once. Every model input that has no default (initializer) must be given by
  // name; inputs may be owning tensors or views over caller memory. Returns all model outputs,
  // in the order of Model::outputs(), as owning tensors.
  Result<std::vector<NamedTensor>> Run(std::span<const NamedTensor> inputs);
  // Same, returning only the named outputs, in the order given.
  Result<std::vector<NamedTensor>> Run(std::span<const NamedTensor> inputs,
                                       std::span<const std::string> output_names);

  const Model& model() const;
  int num_threads() const;

 private:
  explicit Session(std::unique_ptr<internal::SessionImpl> impl);
  std::unique_ptr<internal::SessionImpl> impl_;
};

}  // namespace accel
