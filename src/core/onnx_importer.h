// ONNX importer: serialized ModelProto bytes -> core::Graph.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "accel/status.h"
#include "core/graph.h"

namespace accel::core {

struct OnnxImportOptions {
  // Directory that external-data locations are resolved against; files must stay inside it.
  // Empty: a model that references external data is rejected.
  std::string base_dir;
};

// Parses and validates the model: well-formed protobuf, supported IR version and opsets, every
// node input defined, tensor data sizes consistent with dtype and dims. Initializers become
// Value::constant; initializers also listed as graph inputs stay in Graph::inputs (the caller
// may override them). Sets each Node::opset from the model's opset_import for its domain.
// The returned graph is topologically sorted. Accepts IR versions 3..14 and any opset: whether
// a node's op version is implemented is judged per op by ResolveVersion (every op supports
// opset 7 on; some reach further back). Errors name the node, value or tensor: InvalidModel for
// malformed input, Unsupported for valid features libaccel lacks (subgraphs,
// sequences/maps/optionals, string tensors).
Result<Graph> ImportOnnx(std::span<const std::byte> bytes, const OnnxImportOptions& options);

// Reads a whole file, with the path in any error.
Result<std::string> ReadFile(const std::string& path);

}  // namespace accel::core
