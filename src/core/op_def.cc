#include "core/op_def.h"

#include <algorithm>
#include <string>

namespace accel::core {

Result<int> ResolveVersion(const OpDef& def, int model_opset) {
  int version = 0;
  for (int v : def.versions) {
    if (v <= model_opset) version = v;
  }
  std::string op = std::string(def.domain.empty() ? "" : std::string(def.domain) + ".") +
                   std::string(def.op_type);
  if (version == 0) {
    return InvalidModel("op " + op + " does not exist at opset " + std::to_string(model_opset));
  }
  if (version < def.min_version) {
    return Unsupported("op " + op + " at opset " + std::to_string(model_opset) + " (version " +
                       std::to_string(version) + ") is not supported; versions from " +
                       std::to_string(def.min_version) + " are");
  }
  return version;
}

OpRegistry::OpRegistry(std::vector<const OpDef*> defs) : defs_(std::move(defs)) {
  std::sort(defs_.begin(), defs_.end(), [](const OpDef* a, const OpDef* b) {
    return std::tie(a->domain, a->op_type) < std::tie(b->domain, b->op_type);
  });
}

const OpDef* OpRegistry::Find(std::string_view domain, std::string_view op_type) const {
  if (domain == "ai.onnx") domain = "";
  auto it = std::lower_bound(
      defs_.begin(), defs_.end(), std::pair(domain, op_type),
      [](const OpDef* d, const std::pair<std::string_view, std::string_view>& key) {
        return std::tie(d->domain, d->op_type) < std::tie(key.first, key.second);
      });
  if (it == defs_.end() || (*it)->domain != domain || (*it)->op_type != op_type) return nullptr;
  return *it;
}

}  // namespace accel::core
