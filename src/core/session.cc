#include "accel/session.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include "core/cpu_info.h"
#include "core/executor.h"
#include "core/model_impl.h"
#include "memory/weight_cache.h"

namespace accel {
namespace internal {

class SessionImpl {
 public:
  SessionImpl(Model model, std::unique_ptr<core::Executor> executor)
      : model_(std::move(model)), executor_(std::move(executor)) {}

  const Model& model() const { return model_; }
  core::Executor& executor() { return *executor_; }
  const core::Executor& executor() const { return *executor_; }

 private:
  Model model_;
  std::unique_ptr<core::Executor> executor_;
};

}  // namespace internal

Session::Session(std::unique_ptr<internal::SessionImpl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

Result<Session> Session::Create(const Model& model, const SessionOptions& options) {
  if (options.num_threads < 0) {
    return InvalidArgument("num_threads must be >= 0, got " + std::to_string(options.num_threads));
  }
  int threads = options.num_threads == 0 ? core::PhysicalCoreCount() : options.num_threads;
  try {
    core::ExecutorOptions executor_options;
    executor_options.num_threads = threads;
    executor_options.plan_cache_size = static_cast<size_t>(std::max(options.plan_cache_size, 1));
    executor_options.inplace = options.inplace_reuse;
    executor_options.concat_in_place = options.concat_in_place;
    ACCEL_ASSIGN_OR_RETURN(std::unique_ptr<core::Executor> executor,
                           core::Executor::Create(model.impl_, executor_options));
    if (options.enable_profiling) executor->EnableProfiling();
    Session session(std::make_unique<internal::SessionImpl>(model, std::move(executor)));
    // Fixed input shapes: plan now, so memory_info() is known before the first run. A failure
    // here is reported by Run, with the same message.
    bool fixed = true;
    for (const ValueInfo& info : model.inputs()) {
      fixed = fixed && info.has_shape &&
              std::ranges::none_of(info.dims, [](int64_t d) { return d < 0; });
    }
    if (fixed) (void)session.Prepare();
    return session;
  } catch (const std::exception& e) {
    return Internal(std::string("creating session: ") + e.what());
  }
}

Result<std::vector<NamedTensor>> Session::Run(std::span<const NamedTensor> inputs) {
  std::vector<std::string> names;
  for (const ValueInfo& info : impl_->model().outputs()) names.push_back(info.name);
  return Run(inputs, names);
}

Result<std::vector<NamedTensor>> Session::Run(std::span<const NamedTensor> inputs,
                                              std::span<const std::string> output_names) {
  std::vector<NamedTensor> out;
  out.reserve(output_names.size());
  for (const std::string& name : output_names) out.push_back({name, Tensor()});
  ACCEL_RETURN_IF_ERROR(Run(inputs, std::span<NamedTensor>(out)));
  return out;
}

Status Session::Run(std::span<const NamedTensor> inputs, std::span<NamedTensor> outputs) {
  try {
    ACCEL_RETURN_IF_ERROR(impl_->executor().Run(inputs, outputs));
    if (const auto& weights = impl_->model().internal_impl().weights) weights->AfterRun();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Internal(std::string("run: ") + e.what());
  }
}

Status Session::Prepare(std::span<const InputShape> shapes) {
  const core::Graph& g = impl_->model().internal_impl().graph;
  std::vector<const Shape*> per_input(g.inputs.size(), nullptr);
  std::vector<Shape> fixed(g.inputs.size());
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const core::Value& v = g.values[g.inputs[k]];
    if (v.constant) continue;  // a defaulted input: its constant's shape unless listed
    if (!v.type.fully_known()) continue;
    fixed[k] = v.type.dims;
    per_input[k] = &fixed[k];
  }
  for (const InputShape& s : shapes) {
    size_t k = 0;
    while (k < g.inputs.size() && g.values[g.inputs[k]].name != s.name) ++k;
    if (k == g.inputs.size()) return InvalidArgument("unknown input '" + s.name + "'");
    const core::TensorType& type = g.values[g.inputs[k]].type;
    bool match = !type.has_shape || type.rank() == static_cast<int64_t>(s.shape.size());
    for (size_t i = 0; match && type.has_shape && i < s.shape.size(); ++i) {
      match = s.shape[i] >= 0 && (type.dims[i] < 0 || type.dims[i] == s.shape[i]);
    }
    if (!match) {
      return InvalidArgument("input '" + s.name + "' cannot have shape " + ShapeToString(s.shape) +
                             "; the model expects " + type.ToString());
    }
    per_input[k] = &s.shape;
  }
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const core::Value& v = g.values[g.inputs[k]];
    if (per_input[k] == nullptr && !v.constant) {
      return InvalidArgument("input '" + v.name + "' has symbolic dims (" + v.type.ToString() +
                             "); give its shape");
    }
  }
  try {
    ACCEL_RETURN_IF_ERROR(impl_->executor().Prepare(per_input));
    // The warm-up packed the weights: a cache file gets them now, as after a first run.
    if (const auto& weights = impl_->model().internal_impl().weights) weights->AfterRun();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Internal(std::string("prepare: ") + e.what());
  }
}

MemoryInfo Session::memory_info() const {
  MemoryInfo info;
  const memory::RunPlan* plan = impl_->executor().latest_plan();
  info.arena_reserved_bytes = impl_->executor().arena().capacity();
  if (const auto& weights = impl_->model().internal_impl().weights) {
    info.weights_bytes = weights->stored_bytes();
    info.packed_weights_bytes = weights->packed_bytes();
  }
  if (plan == nullptr) return info;
  info.prepared = true;
  info.arena_bytes = plan->memory.arena_bytes;
  info.arena_lower_bound_bytes = plan->memory.lower_bound_bytes;
  info.planned_tensors = static_cast<int>(plan->block_value.size());
  info.inplace_tensors = plan->memory.inplace_count;
  info.elided_concats = plan->elided_concats;
  info.dynamic_nodes = plan->dynamic_nodes;
  return info;
}

const Model& Session::model() const { return impl_->model(); }
int Session::num_threads() const { return impl_->executor().num_threads(); }

std::vector<NodeProfile> Session::Profile() const {
  const core::Executor& executor = impl_->executor();
  const core::Graph& g = executor.model().graph;
  std::span<const core::NodeTiming> timings = executor.timings();
  std::vector<NodeProfile> profile;
  for (size_t n = 0; n < timings.size(); ++n) {
    const core::NodeTiming& t = timings[n];
    if (t.runs == 0) continue;
    const core::Node& node = g.nodes[n];
    std::string detail = core::InputShapesText(t.input_shapes);
    if (std::string impl = executor.kernel(n).Describe(); !impl.empty()) detail += " | " + impl;
    std::string name = node.name.empty() ? std::string("#").append(std::to_string(n)) : node.name;
    profile.push_back({std::move(name), core::FusedOpType(node), std::move(detail), t.runs,
                       std::chrono::duration<double, std::milli>(t.total).count()});
  }
  return profile;
}

void Session::ResetProfile() { impl_->executor().ResetTimings(); }

}  // namespace accel
