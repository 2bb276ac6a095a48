#include "core/attributes.h"

namespace accel::core {

const char* AttributeTypeName(const AttributeValue& value) {
  static const char* const kNames[] = {"int",    "float",   "string", "ints",
                                       "floats", "strings", "tensor"};
  return kNames[value.index()];
}

template <typename T>
Result<T> Attributes::Get(std::string_view name, T default_value, bool required) const {
  auto it = map_.find(name);
  if (it == map_.end()) {
    if (required) return InvalidModel("missing required attribute '" + std::string(name) + "'");
    return default_value;
  }
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  // ONNX writers sometimes store a single-element list where a scalar is expected.
  if constexpr (std::is_same_v<T, float>) {
    if (const int64_t* i = std::get_if<int64_t>(&it->second)) return static_cast<float>(*i);
  }
  return InvalidModel("attribute '" + std::string(name) + "' has type " +
                      AttributeTypeName(it->second) + ", expected " +
                      AttributeTypeName(AttributeValue(T{})));
}

Result<int64_t> Attributes::GetInt(std::string_view name, int64_t default_value) const {
  return Get<int64_t>(name, default_value, false);
}
Result<float> Attributes::GetFloat(std::string_view name, float default_value) const {
  return Get<float>(name, default_value, false);
}
Result<std::string> Attributes::GetString(std::string_view name, std::string default_value) const {
  return Get<std::string>(name, std::move(default_value), false);
}
Result<std::vector<int64_t>> Attributes::GetInts(std::string_view name,
                                                 std::vector<int64_t> default_value) const {
  return Get<std::vector<int64_t>>(name, std::move(default_value), false);
}
Result<std::vector<float>> Attributes::GetFloats(std::string_view name,
                                                 std::vector<float> default_value) const {
  return Get<std::vector<float>>(name, std::move(default_value), false);
}
Result<std::vector<std::string>> Attributes::GetStrings(std::string_view name) const {
  return Get<std::vector<std::string>>(name, {}, false);
}
Result<Tensor> Attributes::GetTensor(std::string_view name) const {
  if (!Has(name)) return NotFound("no attribute '" + std::string(name) + "'");
  return Get<Tensor>(name, Tensor(), true);
}
Result<int64_t> Attributes::RequireInt(std::string_view name) const {
  return Get<int64_t>(name, 0, true);
}
Result<std::vector<int64_t>> Attributes::RequireInts(std::string_view name) const {
  return Get<std::vector<int64_t>>(name, {}, true);
}

}  // namespace accel::core
