#include "inputs.h"

#include <cstdio>
#include <map>
#include <random>

#include "args.h"
#include "tensor_util.h"

namespace accel::cli {
namespace {

const ValueInfo* FindInput(const Model& model, const std::string& name) {
  for (const ValueInfo& info : model.inputs()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

// The concrete shape for a random input: --shape if given (checked against the model's fixed
// dims), else the model's dims with symbolic ones set to 1.
Result<Shape> ResolveShape(const ValueInfo& info, const std::map<std::string, Shape>& shapes) {
  if (auto it = shapes.find(info.name); it != shapes.end()) {
    const Shape& given = it->second;
    if (info.has_shape && given.size() != info.dims.size()) {
      return InvalidArgument("--shape " + info.name + ": rank " + std::to_string(given.size()) +
                             ", but the model's input has rank " +
                             std::to_string(info.dims.size()));
    }
    for (size_t d = 0; info.has_shape && d < given.size(); ++d) {
      if (info.dims[d] >= 0 && info.dims[d] != given[d]) {
        return InvalidArgument("--shape " + info.name + ": dim " + std::to_string(d) + " is " +
                               std::to_string(given[d]) + ", but the model fixes it to " +
                               std::to_string(info.dims[d]));
      }
    }
    return given;
  }
  if (!info.has_shape) {
    return InvalidArgument("input '" + info.name + "' has unknown rank; give --shape " + info.name +
                           "=DIMS (e.g. 1x3x224x224)");
  }
  Shape shape = info.dims;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] >= 0) continue;
    shape[d] = 1;
    std::string dim_name = d < info.dim_names.size() ? info.dim_names[d] : "";
    std::fprintf(stderr, "note: input '%s' dim %zu%s is not fixed; using 1 (set it with --shape)\n",
                 info.name.c_str(), d, dim_name.empty() ? "" : (" (" + dim_name + ")").c_str());
  }
  return shape;
}

}  // namespace

Result<std::vector<NamedTensor>> PrepareInputs(const Model& model, const InputSpec& spec) {
  std::map<std::string, Shape> shapes;
  for (const std::string& text : spec.shapes) {
    ACCEL_ASSIGN_OR_RETURN(auto assignment, SplitAssignment("shape", text));
    if (!FindInput(model, assignment.first)) {
      return InvalidArgument("--shape: the model has no input '" + assignment.first + "'");
    }
    Result<Shape> shape = ParseShape(assignment.second);
    if (!shape.ok()) {
      return InvalidArgument("--shape " + assignment.first + ": " + shape.status().message());
    }
    shapes[assignment.first] = *shape;
  }

  std::vector<NamedTensor> inputs;
  for (const std::string& text : spec.files) {
    ACCEL_ASSIGN_OR_RETURN(auto assignment, SplitAssignment("input", text));
    for (const NamedTensor& in : inputs) {
      if (in.name == assignment.first) {
        return InvalidArgument("--input " + assignment.first + " given twice");
      }
    }
    ACCEL_ASSIGN_OR_RETURN(Tensor t, LoadTensorFile(assignment.second));
    inputs.push_back({assignment.first, std::move(t)});
  }

  std::mt19937_64 rng(spec.seed);
  for (const ValueInfo& info : model.inputs()) {
    bool given = false;
    for (const NamedTensor& in : inputs) given |= in.name == info.name;
    if (given) continue;
    ACCEL_ASSIGN_OR_RETURN(Shape shape, ResolveShape(info, shapes));
    Result<Tensor> t = RandomTensor(info.dtype, shape, rng);
    if (!t.ok())
      return Status(t.status().code(), "input '" + info.name + "': " + t.status().message());
    inputs.push_back({info.name, std::move(t).value()});
  }
  return inputs;
}

std::string SanitizeFileName(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
    out += safe ? c : '_';
  }
  // Never produce "", "." or "..", which would not name a file inside the output directory.
  if (out.empty() || out.find_first_not_of('.') == std::string::npos) out = "_" + out;
  return out;
}

}  // namespace accel::cli
