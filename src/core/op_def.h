// OpDef: everything libaccel knows about one op on one backend, in one struct.
//
// A kernel file defines its OpDef (shape rule + kernel factory) and the backend's op list names
// it in one line. Version policy: `versions` lists every since_version of the op in the ONNX
// spec (through the newest release); the node's version is the largest one not above the
// model's opset. Versions from `min_version` on are implemented; an older one is refused
// naming op and opset. A model whose opset is newer than the newest listed version runs the
// newest listed semantics, because the op has not changed since.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "accel/status.h"
#include "core/infer_context.h"
#include "core/kernel.h"
#include "core/layout.h"

namespace accel::core {

struct OpDef {
  std::string_view op_type;
  std::string_view domain;    // "" for the default ONNX domain
  std::vector<int> versions;  // ascending since_versions from the ONNX spec
  int min_version;            // oldest of `versions` this implementation handles
  InferFn infer;
  CreateKernelFn create;
  LayoutSupport layouts = LayoutSupport::kPlainOnly;
};

// The op version in force for a model opset, or an Unsupported error naming op and opset.
Result<int> ResolveVersion(const OpDef& def, int model_opset);

// A backend's set of ops, looked up by (domain, op_type).
class OpRegistry {
 public:
  explicit OpRegistry(std::vector<const OpDef*> defs);
  const OpDef* Find(std::string_view domain, std::string_view op_type) const;
  std::span<const OpDef* const> all() const { return defs_; }

 private:
  std::vector<const OpDef*> defs_;  // sorted by domain, then op_type
};

}  // namespace accel::core
