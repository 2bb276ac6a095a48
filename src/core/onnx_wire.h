// Splits a serialized ONNX ModelProto into its structure and the raw_data bytes of its graph's
// initializers, reading the protobuf wire format directly.
//
// Why: protobuf copies every bytes field into a std::string while parsing, so a model's weights
// were copied (and their pages faulted in) once more than needed; on resnet50 that parse was the
// largest part of Model::Load. With the split, protobuf parses only the structure (kilobytes)
// and the importer copies each initializer once, straight from the file's bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace accel::core {

struct SplitModel {
  // The model with every graph initializer's raw_data field removed (all else byte for byte,
  // except that initializers come after the graph's other fields).
  std::string structure;
  // Per graph initializer, in order: the removed raw_data bytes (inside the input span, possibly
  // empty), or a default span (data() == nullptr) when it had no raw_data field (typed fields
  // or external data).
  std::vector<std::span<const std::byte>> raw_data;
};

// nullopt when the bytes are not well-formed protobuf at the levels read here (model, graph,
// initializers); the caller then parses them whole and reports protobuf's error.
std::optional<SplitModel> SplitRawData(std::span<const std::byte> model);

}  // namespace accel::core
