// Node attributes: a small typed map filled by the importers and read by shape rules and kernels.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "accel/status.h"
#include "accel/tensor.h"

namespace accel::core {

using AttributeValue = std::variant<int64_t, float, std::string, std::vector<int64_t>,
                                    std::vector<float>, std::vector<std::string>, Tensor>;

// "int", "float", "string", "ints", "floats", "strings", "tensor".
const char* AttributeTypeName(const AttributeValue& value);

class Attributes {
 public:
  void Set(std::string name, AttributeValue value) { map_[std::move(name)] = std::move(value); }
  bool Has(std::string_view name) const { return map_.find(name) != map_.end(); }
  const std::map<std::string, AttributeValue, std::less<>>& all() const { return map_; }

  // Each getter returns the default when the attribute is absent and an InvalidModel error
  // naming the attribute when it has another type. Messages omit the node: callers add it.
  Result<int64_t> GetInt(std::string_view name, int64_t default_value) const;
  Result<float> GetFloat(std::string_view name, float default_value) const;
  Result<std::string> GetString(std::string_view name, std::string default_value) const;
  Result<std::vector<int64_t>> GetInts(std::string_view name,
                                       std::vector<int64_t> default_value = {}) const;
  Result<std::vector<float>> GetFloats(std::string_view name,
                                       std::vector<float> default_value = {}) const;
  Result<std::vector<std::string>> GetStrings(std::string_view name) const;
  // NotFound when absent.
  Result<Tensor> GetTensor(std::string_view name) const;
  // Like the getters above but the attribute must be present.
  Result<int64_t> RequireInt(std::string_view name) const;
  Result<std::vector<int64_t>> RequireInts(std::string_view name) const;

 private:
  template <typename T>
  Result<T> Get(std::string_view name, T default_value, bool required) const;

  std::map<std::string, AttributeValue, std::less<>> map_;
};

}  // namespace accel::core
