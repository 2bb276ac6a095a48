#include "accel/model.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <set>

#include "backends/cpu/cpu_features.h"
#include "backends/cpu/cpu_registry.h"
#include "core/constant_block.h"
#include "core/graph_inference.h"
#include "core/mapped_file.h"
#include "core/model_impl.h"
#include "core/onnx_importer.h"
#include "memory/weight_cache.h"

namespace accel {
namespace internal {

Status BindOps(ModelImpl& model) {
  const core::OpRegistry& registry = cpu::CpuRegistry();
  const core::Graph& g = model.graph;
  model.op_defs.assign(g.nodes.size(), nullptr);
  model.op_versions.assign(g.nodes.size(), 0);
  std::set<std::string> unknown;
  std::string first_error;
  StatusCode first_code = StatusCode::kUnsupported;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const core::Node& n = g.nodes[i];
    const core::OpDef* def = registry.Find(n.domain, n.op_type);
    if (!def) {
      unknown.insert((n.domain.empty() ? "" : n.domain + ".") + n.op_type);
      continue;
    }
    Result<int> version = core::ResolveVersion(*def, n.opset);
    if (!version.ok()) {
      if (first_error.empty()) {
        first_error = g.NodeLabel(i) + ": " + version.status().message();
        first_code = version.status().code();
      }
      continue;
    }
    model.op_defs[i] = def;
    model.op_versions[i] = *version;
  }
  if (!unknown.empty()) {
    std::string list;
    for (const std::string& op : unknown) list += (list.empty() ? "" : ", ") + op;
    return Unsupported("unsupported ops: " + list);
  }
  if (!first_error.empty()) return Status(first_code, first_error);
  return Status::Ok();
}

namespace {

ValueInfo MakeValueInfo(const core::Value& v) {
  ValueInfo info;
  info.name = v.name;
  info.dtype = v.type.dtype;
  info.has_shape = v.type.has_shape;
  info.dims = v.type.dims;
  info.dim_names = v.type.dim_names;
  info.dim_names.resize(info.dims.size());
  return info;
}

}  // namespace

Result<ModelImpl> FinishModel(core::Graph graph, const LoadOptions& options) {
  ModelImpl model;
  ACCEL_RETURN_IF_ERROR(cpu::CheckPrecisionSupported(options.precision));
  model.precision = options.precision;
  model.graph = std::move(graph);
  ACCEL_RETURN_IF_ERROR(BindOps(model));
  ACCEL_RETURN_IF_ERROR(core::InferGraphTypes(model.graph, model.op_defs, model.op_versions));
  std::vector<std::string> inputs_before;
  for (int v : model.graph.inputs) inputs_before.push_back(model.graph.values[v].name);
  core::OptimizerOptions optimizer{options.optimization_level, options.disabled_passes};
  ACCEL_RETURN_IF_ERROR(core::Optimize(model, optimizer, model.optimizer_report));
  ACCEL_RETURN_IF_ERROR(core::CompactConstantBlock(model.graph));
  for (const std::string& name : inputs_before) {
    const int v = model.graph.FindValue(name);
    if (!std::ranges::count(model.graph.inputs, v)) model.folded_inputs.push_back(name);
  }
  for (int v : model.graph.inputs) {
    if (!model.graph.values[v].constant) {
      model.inputs.push_back(MakeValueInfo(model.graph.values[v]));
    }
  }
  for (int v : model.graph.outputs) model.outputs.push_back(MakeValueInfo(model.graph.values[v]));
  model.weights = memory::ModelWeights::Share(model.graph, options.weight_cache_path);
  return model;
}

}  // namespace internal

namespace {

Result<Model> LoadBytes(std::span<const std::byte> bytes, const std::string& base_dir,
                        const std::string& label, const LoadOptions& options) {
  core::OnnxImportOptions import_options;
  import_options.base_dir = base_dir;
  Result<core::Graph> graph = core::ImportOnnx(bytes, import_options);
  if (!graph.ok()) {
    return Status(graph.status().code(), label + ": " + graph.status().message());
  }
  Result<internal::ModelImpl> impl = internal::FinishModel(std::move(graph).value(), options);
  if (!impl.ok()) return Status(impl.status().code(), label + ": " + impl.status().message());
  return Result<Model>(Model::FromImpl(std::move(impl).value()));
}

}  // namespace

Model Model::FromImpl(internal::ModelImpl impl) {
  return Model(std::make_shared<const internal::ModelImpl>(std::move(impl)));
}

Result<Model> Model::Load(const std::string& path, const LoadOptions& options) {
  try {
    ACCEL_ASSIGN_OR_RETURN(core::MappedFile file, core::MappedFile::Open(path));
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    return LoadBytes(file.bytes(), dir.string(), path, options);
  } catch (const std::exception& e) {
    return Internal(path + ": " + e.what());
  }
}

Result<Model> Model::LoadFromBuffer(std::span<const std::byte> bytes, const LoadOptions& options) {
  try {
    return LoadBytes(bytes, options.external_data_dir, "model buffer", options);
  } catch (const std::exception& e) {
    return Internal(std::string("model buffer: ") + e.what());
  }
}

const std::vector<ValueInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<ValueInfo>& Model::outputs() const { return impl_->outputs; }

}  // namespace accel
