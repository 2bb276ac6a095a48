#include "core/onnx_wire.h"

#include <cstdint>

namespace accel::core {

namespace {

// Field numbers from onnx.proto.
constexpr uint64_t kModelGraph = 7;        // ModelProto.graph
constexpr uint64_t kGraphInitializer = 5;  // GraphProto.initializer
constexpr uint64_t kTensorRawData = 9;     // TensorProto.raw_data
constexpr uint64_t kWireVarint = 0, kWireFixed64 = 1, kWireLen = 2, kWireFixed32 = 5;

// A cursor over wire-format bytes; every read checks the end.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> bytes) : bytes_(bytes) {}

  bool done() const { return pos_ == bytes_.size(); }
  size_t pos() const { return pos_; }

  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ == bytes_.size()) return false;
      const auto b = static_cast<uint8_t>(bytes_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }

  // Reads one field's tag and skips its value; `value` receives a LEN field's payload.
  bool Field(uint64_t& number, uint64_t& wire, std::span<const std::byte>& value) {
    uint64_t tag = 0;
    if (!Varint(tag)) return false;
    number = tag >> 3;
    wire = tag & 7;
    uint64_t v = 0;
    switch (wire) {
      case kWireVarint:
        return Varint(v);
      case kWireFixed64:
        return Skip(8);
      case kWireFixed32:
        return Skip(4);
      case kWireLen:
        if (!Varint(v) || v > bytes_.size() - pos_) return false;
        value = bytes_.subspan(pos_, v);
        pos_ += v;
        return true;
      default:  // groups (deprecated, unused by ONNX) and invalid wire types
        return false;
    }
  }

 private:
  bool Skip(size_t n) {
    if (n > bytes_.size() - pos_) return false;
    pos_ += n;
    return true;
  }

  std::span<const std::byte> bytes_;
  size_t pos_ = 0;
};

void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void AppendBytes(std::string& out, std::span<const std::byte> bytes) {
  out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void AppendLenField(std::string& out, uint64_t number, const std::string& payload) {
  AppendVarint(out, number << 3 | kWireLen);
  AppendVarint(out, payload.size());
  out += payload;
}

// The tensor without its raw_data field(s); `raw` receives the last one (protobuf's rule for a
// repeated singular field).
bool StripTensor(std::span<const std::byte> tensor, std::string& out,
                 std::span<const std::byte>& raw) {
  Reader r(tensor);
  while (!r.done()) {
    const size_t start = r.pos();
    uint64_t number = 0, wire = 0;
    std::span<const std::byte> value;
    if (!r.Field(number, wire, value)) return false;
    if (number == kTensorRawData && wire == kWireLen) {
      raw = value;
    } else {
      AppendBytes(out, tensor.subspan(start, r.pos() - start));
    }
  }
  return true;
}

bool StripGraph(std::span<const std::byte> graph, std::string& out,
                std::vector<std::span<const std::byte>>& raw_data) {
  Reader r(graph);
  std::string initializers;
  while (!r.done()) {
    const size_t start = r.pos();
    uint64_t number = 0, wire = 0;
    std::span<const std::byte> value;
    if (!r.Field(number, wire, value)) return false;
    if (number == kGraphInitializer && wire == kWireLen) {
      std::string stripped;
      std::span<const std::byte> raw;
      if (!StripTensor(value, stripped, raw)) return false;
      AppendLenField(initializers, kGraphInitializer, stripped);
      raw_data.push_back(raw);
    } else {
      AppendBytes(out, graph.subspan(start, r.pos() - start));
    }
  }
  out += initializers;
  return true;
}

}  // namespace

std::optional<SplitModel> SplitRawData(std::span<const std::byte> model) {
  SplitModel split;
  bool seen_graph = false;
  Reader r(model);
  while (!r.done()) {
    const size_t start = r.pos();
    uint64_t number = 0, wire = 0;
    std::span<const std::byte> value;
    if (!r.Field(number, wire, value)) return std::nullopt;
    if (number == kModelGraph && wire == kWireLen) {
      // A repeated graph field merges in protobuf: rare enough to leave to protobuf.
      if (seen_graph) return std::nullopt;
      seen_graph = true;
      std::string graph;
      if (!StripGraph(value, graph, split.raw_data)) return std::nullopt;
      AppendLenField(split.structure, kModelGraph, graph);
    } else {
      AppendBytes(split.structure, model.subspan(start, r.pos() - start));
    }
  }
  return split;
}

}  // namespace accel::core
