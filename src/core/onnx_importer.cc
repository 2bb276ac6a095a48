#include "core/onnx_importer.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include "core/constant_block.h"
#include "core/mapped_file.h"
#include "core/onnx_tensor.h"
#include "core/onnx_wire.h"

namespace accel::core {

namespace {

// IR versions 1 and 2 predate opset_import; the newest is the one ONNX 1.23 writes.
constexpr int64_t kMinIrVersion = 3;
constexpr int64_t kMaxIrVersion = 14;

Status WithPrefix(const std::string& prefix, const Status& status) {
  return Status(status.code(), prefix + ": " + status.message());
}

std::string NormalizeDomain(const std::string& domain) {
  return domain == "ai.onnx" ? std::string() : domain;
}

std::string DomainLabel(const std::string& domain) {
  return domain.empty() ? "the default ONNX domain" : "domain '" + domain + "'";
}

Result<std::map<std::string, int>> ReadOpsets(const onnx::ModelProto& model) {
  std::map<std::string, int> opsets;
  for (const onnx::OperatorSetIdProto& entry : model.opset_import()) {
    const std::string domain = NormalizeDomain(entry.domain());
    const int64_t version = entry.version();
    if (version < 1 || version > INT_MAX) {
      return InvalidModel("opset_import for " + DomainLabel(domain) + " has invalid version " +
                          std::to_string(version));
    }
    if (!opsets.emplace(domain, static_cast<int>(version)).second) {
      return InvalidModel("opset_import lists " + DomainLabel(domain) + " twice");
    }
  }
  return opsets;
}

// Tensor type of a graph input/output/value_info; non-tensor types are refused.
Result<TensorType> ReadValueType(const onnx::ValueInfoProto& info) {
  const std::string label = "value '" + info.name() + "'";
  if (!info.has_type()) return TensorType::UnknownShape(DType::kUndefined);
  const onnx::TypeProto& type = info.type();
  if (type.value_case() != onnx::TypeProto::kTensorType) {
    const char* kind = "an unknown type";
    switch (type.value_case()) {
      case onnx::TypeProto::kSequenceType:
        kind = "a sequence";
        break;
      case onnx::TypeProto::kMapType:
        kind = "a map";
        break;
      case onnx::TypeProto::kOptionalType:
        kind = "an optional";
        break;
      case onnx::TypeProto::kSparseTensorType:
        kind = "a sparse tensor";
        break;
      default:
        break;
    }
    return Unsupported(label + " is " + kind + "; only dense tensors are supported");
  }
  const onnx::TypeProto::Tensor& tensor = type.tensor_type();
  TensorType result;
  if (tensor.elem_type() != onnx::TensorProto::UNDEFINED) {
    Result<DType> dtype = DTypeFromOnnx(tensor.elem_type());
    if (!dtype.ok()) return WithPrefix(label, dtype.status());
    result.dtype = *dtype;
  }
  if (!tensor.has_shape()) return result;
  result.has_shape = true;
  for (const onnx::TensorShapeProto::Dimension& dim : tensor.shape().dim()) {
    if (dim.has_dim_value()) {
      if (dim.dim_value() < 0) {
        return InvalidModel(label + ": negative dimension " + std::to_string(dim.dim_value()));
      }
      result.dims.push_back(dim.dim_value());
      result.dim_names.emplace_back();
    } else {
      result.dims.push_back(-1);
      result.dim_names.push_back(dim.has_dim_param() ? dim.dim_param() : std::string());
    }
  }
  return result;
}

// The attribute's type; old exporters leave `type` unset, so fall back to the field present.
onnx::AttributeProto::AttributeType AttributeKind(const onnx::AttributeProto& a) {
  using A = onnx::AttributeProto;
  if (a.type() != A::UNDEFINED) return a.type();
  if (a.has_f()) return A::FLOAT;
  if (a.has_i()) return A::INT;
  if (a.has_s()) return A::STRING;
  if (a.has_t()) return A::TENSOR;
  if (a.has_g()) return A::GRAPH;
  if (a.has_sparse_tensor()) return A::SPARSE_TENSOR;
  if (a.has_tp()) return A::TYPE_PROTO;
  if (a.floats_size()) return A::FLOATS;
  if (a.ints_size()) return A::INTS;
  if (a.strings_size()) return A::STRINGS;
  if (a.tensors_size()) return A::TENSORS;
  if (a.graphs_size()) return A::GRAPHS;
  if (a.sparse_tensors_size()) return A::SPARSE_TENSORS;
  if (a.type_protos_size()) return A::TYPE_PROTOS;
  return A::UNDEFINED;
}

// Errors omit the node; the caller prefixes it.
Result<AttributeValue> ReadAttribute(const onnx::AttributeProto& a, const std::string& base_dir) {
  using A = onnx::AttributeProto;
  const std::string label = "attribute '" + a.name() + "'";
  if (!a.ref_attr_name().empty()) {
    return Unsupported(label + " refers to function attribute '" + a.ref_attr_name() +
                       "'; function bodies are not supported");
  }
  const A::AttributeType kind = AttributeKind(a);
  switch (kind) {
    case A::INT:
      return AttributeValue(static_cast<int64_t>(a.i()));
    case A::FLOAT:
      return AttributeValue(a.f());
    case A::STRING:
      return AttributeValue(a.s());
    case A::INTS:
      return AttributeValue(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case A::FLOATS:
      return AttributeValue(std::vector<float>(a.floats().begin(), a.floats().end()));
    case A::STRINGS:
      return AttributeValue(std::vector<std::string>(a.strings().begin(), a.strings().end()));
    case A::TENSOR: {
      Result<Tensor> t = TensorFromProto(a.t(), base_dir);
      if (!t.ok()) return WithPrefix(label, t.status());
      return AttributeValue(std::move(t).value());
    }
    case A::UNDEFINED:
      return InvalidModel(label + " has no type and no value");
    default:
      break;
  }
  const std::string type_name =
      A::AttributeType_IsValid(kind) ? A::AttributeType_Name(kind) : std::to_string(kind);
  return Unsupported(label + " has type " + type_name +
                     (kind == A::GRAPH || kind == A::GRAPHS ? " (subgraphs are not supported)"
                                                            : " (not supported)"));
}

class Importer {
 public:
  // `raw_data` (per initializer, from SplitRawData; nullptr when the model was parsed whole)
  // holds the initializers' bytes that the parsed `model` lacks.
  Importer(const onnx::ModelProto& model, const OnnxImportOptions& options,
           const std::vector<std::span<const std::byte>>* raw_data)
      : model_(model), base_dir_(options.base_dir), raw_data_(raw_data) {}

  Result<Graph> Run() {
    ACCEL_RETURN_IF_ERROR(CheckVersion());
    ACCEL_ASSIGN_OR_RETURN(opsets_, ReadOpsets(model_));
    if (!model_.has_graph()) return InvalidModel("the model has no graph");
    const onnx::GraphProto& g = model_.graph();
    if (g.sparse_initializer_size() > 0) {
      return Unsupported("sparse initializer '" + g.sparse_initializer(0).values().name() +
                         "' is not supported");
    }
    ACCEL_RETURN_IF_ERROR(ReadInputs(g));
    ACCEL_RETURN_IF_ERROR(ReadInitializers(g));
    ACCEL_RETURN_IF_ERROR(ReadOutputs(g));
    for (const onnx::NodeProto& node : g.node()) ACCEL_RETURN_IF_ERROR(ReadNode(node));
    ACCEL_RETURN_IF_ERROR(ReadValueInfo(g));
    ACCEL_RETURN_IF_ERROR(graph_.SortTopologically());
    return std::move(graph_);
  }

 private:
  Status CheckVersion() const {
    if (!model_.has_ir_version()) return InvalidModel("the model has no ir_version");
    const int64_t ir = model_.ir_version();
    if (ir < kMinIrVersion || ir > kMaxIrVersion) {
      return Unsupported("IR version " + std::to_string(ir) +
                         " is not supported (supported: " + std::to_string(kMinIrVersion) + " to " +
                         std::to_string(kMaxIrVersion) + ")");
    }
    return Status::Ok();
  }

  Status ReadInputs(const onnx::GraphProto& g) {
    std::set<std::string> seen;
    for (const onnx::ValueInfoProto& info : g.input()) {
      if (info.name().empty()) return InvalidModel("a graph input has an empty name");
      if (!seen.insert(info.name()).second) {
        return InvalidModel("graph input '" + info.name() + "' is listed twice");
      }
      ACCEL_ASSIGN_OR_RETURN(TensorType type, ReadValueType(info));
      const int v = graph_.GetOrAddValue(info.name());
      graph_.values[v].type = std::move(type);
      graph_.inputs.push_back(v);
    }
    return Status::Ok();
  }

  // After ReadInputs: an initializer that is also an input keeps both roles.
  Status ReadInitializers(const onnx::GraphProto& g) {
    ConstantBlock block(raw_data_ ? std::span(*raw_data_)
                                  : std::span<const std::span<const std::byte>>());
    for (int i = 0; i < g.initializer_size(); ++i) {
      const onnx::TensorProto& init = g.initializer(i);
      if (init.name().empty()) return InvalidModel("an initializer has an empty name");
      const int v = graph_.GetOrAddValue(init.name());
      Value& value = graph_.values[v];
      if (value.constant) {
        return InvalidModel("initializer '" + init.name() + "' is defined twice");
      }
      std::optional<std::span<const std::byte>> raw;
      if (raw_data_ && (*raw_data_)[i].data() != nullptr) raw = (*raw_data_)[i];
      // Only raw bytes were counted into the block.
      ACCEL_ASSIGN_OR_RETURN(Tensor t, TensorFromProto(init, base_dir_, raw,
                                                       raw ? block.allocator() : Tensor::Create));
      if (value.type.dtype != DType::kUndefined && value.type.dtype != t.dtype()) {
        return InvalidModel("initializer '" + init.name() + "' has dtype " + DTypeName(t.dtype()) +
                            " but graph input '" + init.name() + "' declares " +
                            DTypeName(value.type.dtype));
      }
      value.type = TensorType::Known(t.dtype(), t.shape());
      value.constant = std::move(t);
    }
    graph_.constant_block = block.memory();
    return Status::Ok();
  }

  Status ReadOutputs(const onnx::GraphProto& g) {
    std::set<std::string> seen;
    for (const onnx::ValueInfoProto& info : g.output()) {
      if (info.name().empty()) return InvalidModel("a graph output has an empty name");
      if (!seen.insert(info.name()).second) {
        return InvalidModel("graph output '" + info.name() + "' is listed twice");
      }
      ACCEL_ASSIGN_OR_RETURN(TensorType type, ReadValueType(info));
      const int v = graph_.GetOrAddValue(info.name());
      Value& value = graph_.values[v];
      // Inputs and initializers already carry their type.
      if (value.type.dtype == DType::kUndefined && !value.type.has_shape) {
        value.type = std::move(type);
      }
      graph_.outputs.push_back(v);
    }
    return Status::Ok();
  }

  // value_info only annotates values the nodes use; names nothing refers to are ignored.
  Status ReadValueInfo(const onnx::GraphProto& g) {
    for (const onnx::ValueInfoProto& info : g.value_info()) {
      const int v = graph_.FindValue(info.name());
      if (v == kNoValue) continue;
      ACCEL_ASSIGN_OR_RETURN(TensorType type, ReadValueType(info));
      Value& value = graph_.values[v];
      if (value.type.dtype == DType::kUndefined && !value.type.has_shape) {
        value.type = std::move(type);
      }
    }
    return Status::Ok();
  }

  Status ReadNode(const onnx::NodeProto& proto) {
    const size_t index = graph_.nodes.size();
    graph_.nodes.emplace_back();
    Node& node = graph_.nodes.back();
    node.name = proto.name();
    node.op_type = proto.op_type();
    node.domain = NormalizeDomain(proto.domain());
    const std::string label = graph_.NodeLabel(index);
    if (node.op_type.empty()) return InvalidModel(label + ": empty op_type");
    auto opset = opsets_.find(node.domain);
    if (opset == opsets_.end()) {
      return InvalidModel(label + ": the model has no opset_import for " +
                          DomainLabel(node.domain));
    }
    node.opset = opset->second;
    for (const std::string& name : proto.input()) {
      node.inputs.push_back(name.empty() ? kNoValue : graph_.GetOrAddValue(name));
    }
    for (const std::string& name : proto.output()) {
      node.outputs.push_back(name.empty() ? kNoValue : graph_.GetOrAddValue(name));
    }
    for (const onnx::AttributeProto& a : proto.attribute()) {
      if (a.name().empty()) return InvalidModel(label + ": an attribute has an empty name");
      if (node.attrs.Has(a.name())) {
        return InvalidModel(label + ": attribute '" + a.name() + "' is given twice");
      }
      Result<AttributeValue> value = ReadAttribute(a, base_dir_);
      if (!value.ok()) return WithPrefix(label, value.status());
      node.attrs.Set(a.name(), std::move(value).value());
    }
    return Status::Ok();
  }

  const onnx::ModelProto& model_;
  const std::string base_dir_;
  const std::vector<std::span<const std::byte>>* raw_data_;
  std::map<std::string, int> opsets_;
  Graph graph_;
};

}  // namespace

Result<Graph> ImportOnnx(std::span<const std::byte> bytes, const OnnxImportOptions& options) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return InvalidModel("the model is " + std::to_string(bytes.size()) +
                        " bytes; a serialized ONNX model must be under 2 GiB (store large "
                        "weights as external data)");
  }
  onnx::ModelProto model;
  // Parse the structure alone and copy the weights once, from `bytes` (see onnx_wire.h); fall
  // back to protobuf on the whole message where the split does not apply.
  std::optional<SplitModel> split = SplitRawData(bytes);
  if (split && (!model.ParseFromString(split->structure) ||
                model.graph().initializer_size() != static_cast<int>(split->raw_data.size()))) {
    model.Clear();
    split.reset();
  }
  if (!split && !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidModel(
        "not a valid ONNX model: the protobuf could not be parsed (truncated or "
        "corrupt)");
  }
  return Importer(model, options, split ? &split->raw_data : nullptr).Run();
}

Result<std::string> ReadFile(const std::string& path) {
  ACCEL_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  const std::span<const std::byte> bytes = file.bytes();
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace accel::core
