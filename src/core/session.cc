#include "accel/session.h"

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

namespace {

// True when `t` points into one of the model's constants (an output that is an initializer or
// aliases one): the caller must get its own copy, not the model's bytes.
bool AliasesConstant(const core::Graph& g, const Tensor& t) {
  auto p = static_cast<const std::byte*>(t.data());
  for (const core::Value& v : g.values) {
    if (!v.constant) continue;
    auto base = static_cast<const std::byte*>(v.constant->data());
    if (p >= base && p < base + v.constant->byte_size()) return true;
  }
  return false;
}

}  // namespace

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
    ACCEL_ASSIGN_OR_RETURN(std::unique_ptr<core::Executor> executor,
                           core::Executor::Create(model.impl_, threads));
    if (options.enable_profiling) executor->EnableProfiling();
    return Session(std::make_unique<internal::SessionImpl>(model, std::move(executor)));
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
  try {
    const core::Graph& g = impl_->model().internal_impl().graph;
    std::vector<int> wanted;
    for (const std::string& name : output_names) {
      int v = g.FindValue(name);
      bool is_output = false;
      for (int o : g.outputs) is_output |= o == v;
      if (!is_output) return InvalidArgument("unknown output '" + name + "'");
      wanted.push_back(v);
    }
    ACCEL_ASSIGN_OR_RETURN(std::vector<Tensor> tensors, impl_->executor().Run(inputs, wanted));
    if (const auto& weights = impl_->model().internal_impl().weights) weights->AfterRun();
    std::vector<NamedTensor> out;
    for (size_t i = 0; i < tensors.size(); ++i) {
      Tensor t = std::move(tensors[i]);
      if (t.is_view() || AliasesConstant(g, t)) {
        ACCEL_ASSIGN_OR_RETURN(t, t.Clone());
      }
      out.push_back({output_names[i], std::move(t)});
    }
    return out;
  } catch (const std::exception& e) {
    return Internal(std::string("run: ") + e.what());
  }
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
    std::string name = node.name.empty() ? std::string("#").append(std::to_string(n)) : node.name;
    profile.push_back({std::move(name), core::FusedOpType(node), std::move(detail), t.runs,
                       std::chrono::duration<double, std::milli>(t.total).count()});
  }
  return profile;
}

void Session::ResetProfile() { impl_->executor().ResetTimings(); }

}  // namespace accel
