#include "npy_io.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <vector>

#include "core/onnx_importer.h"

namespace accel::cli {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

struct DescrEntry {
  const char* code;  // type code without the byte-order character
  DType dtype;
};
constexpr DescrEntry kDescrs[] = {
    {"f2", DType::kFloat16}, {"f4", DType::kFloat32}, {"f8", DType::kFloat64},
    {"i1", DType::kInt8},    {"i2", DType::kInt16},   {"i4", DType::kInt32},
    {"i8", DType::kInt64},   {"u1", DType::kUInt8},   {"u2", DType::kUInt16},
    {"u4", DType::kUInt32},  {"u8", DType::kUInt64},  {"b1", DType::kBool},
};

// The header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// This parser accepts exactly the subset numpy writes: string keys, and values that are a
// string, True/False, or a tuple of non-negative integers.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  struct Header {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<std::vector<int64_t>> shape;
  };

  Result<Header> Parse() {
    Header h;
    if (!Consume('{')) return Error("expected '{'");
    while (true) {
      SkipSpace();
      if (Consume('}')) break;
      ACCEL_ASSIGN_OR_RETURN(std::string key, ParseString());
      if (!Consume(':')) return Error("expected ':' after '" + key + "'");
      if (key == "descr") {
        ACCEL_ASSIGN_OR_RETURN(h.descr, ParseString());
      } else if (key == "fortran_order") {
        ACCEL_ASSIGN_OR_RETURN(h.fortran_order, ParseBool());
      } else if (key == "shape") {
        ACCEL_ASSIGN_OR_RETURN(h.shape, ParseTuple());
      } else {
        return Error("unexpected key '" + key + "'");
      }
      if (!Consume(',')) {
        if (!Consume('}')) return Error("expected ',' or '}'");
        break;
      }
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("trailing characters after the dict");
    if (!h.descr || !h.fortran_order || !h.shape) {
      return Error("missing 'descr', 'fortran_order' or 'shape'");
    }
    return h;
  }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgument("malformed header at offset " + std::to_string(pos_) + ": " + what);
  }
  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  Result<std::string> ParseString() {
    SkipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return Error("expected a quoted string");
    }
    char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return Error("unterminated string");
    std::string s(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  Result<bool> ParseBool() {
    SkipSpace();
    for (auto [word, value] : {std::pair<std::string_view, bool>{"True", true}, {"False", false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    return Error("expected True or False");
  }
  Result<std::vector<int64_t>> ParseTuple() {
    std::vector<int64_t> dims;
    if (!Consume('(')) return Error("expected '(' for shape");
    while (!Consume(')')) {
      SkipSpace();
      int64_t d = 0;
      size_t digits = 0;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        int digit = text_[pos_++] - '0';
        if (d > (std::numeric_limits<int64_t>::max() - digit) / 10) {
          return Error("dimension too large");
        }
        d = d * 10 + digit;
        ++digits;
      }
      if (digits == 0) return Error("expected a dimension");
      // numpy writes Python ints; a long suffix 'L' comes from Python 2.
      if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;
      dims.push_back(d);
      if (!Consume(',')) {
        if (!Consume(')')) return Error("expected ',' or ')' in shape");
        break;
      }
    }
    return dims;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

Result<DType> DTypeFromDescr(const std::string& descr) {
  if (descr.size() == 3) {
    char order = descr[0];
    std::string code = descr.substr(1);
    for (const DescrEntry& e : kDescrs) {
      if (code != e.code) continue;
      bool one_byte = DTypeSize(e.dtype) == 1;
      // This tool only runs on little-endian hosts, so '=' (native) is little-endian too.
      if (order == '<' || order == '=' || order == '|' || (one_byte && order == '>')) {
        return e.dtype;
      }
      return Unsupported("big-endian dtype '" + descr + "' is not supported");
    }
  }
  return Unsupported("dtype '" + descr + "' is not supported (expected one of f2 f4 f8 i1 i2 " +
                     "i4 i8 u1 u2 u4 u8 b1)");
}

Result<std::string> DescrFromDType(DType dtype) {
  for (const DescrEntry& e : kDescrs) {
    if (e.dtype == dtype) return std::string(DTypeSize(dtype) == 1 ? "|" : "<") + e.code;
  }
  return Unsupported(std::string("dtype ") + DTypeName(dtype) + " has no .npy equivalent");
}

uint32_t ReadLittleEndian(std::span<const std::byte> bytes) {
  uint32_t v = 0;
  for (size_t i = bytes.size(); i-- > 0;) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return v;
}

Result<Tensor> Decode(std::span<const std::byte> bytes) {
  if (bytes.size() < kMagicSize + 4 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    return InvalidArgument("not a .npy file (bad magic)");
  }
  uint8_t major = static_cast<uint8_t>(bytes[6]);
  size_t len_size = 0;
  if (major == 1) {
    len_size = 2;
  } else if (major == 2 || major == 3) {
    len_size = 4;
  } else {
    return Unsupported(".npy format version " + std::to_string(major) + " is not supported");
  }
  size_t prefix = kMagicSize + 2 + len_size;
  if (bytes.size() < prefix) return InvalidArgument("truncated header");
  size_t header_len = ReadLittleEndian(bytes.subspan(kMagicSize + 2, len_size));
  if (header_len > bytes.size() - prefix) return InvalidArgument("truncated header");
  std::string_view header(reinterpret_cast<const char*>(bytes.data()) + prefix, header_len);

  ACCEL_ASSIGN_OR_RETURN(HeaderParser::Header h, HeaderParser(header).Parse());
  ACCEL_ASSIGN_OR_RETURN(DType dtype, DTypeFromDescr(*h.descr));
  if (*h.fortran_order) return Unsupported("Fortran-order arrays are not supported");

  // Reject sizes whose byte count would overflow before comparing against the file size.
  const std::vector<int64_t>& dims = *h.shape;
  uint64_t count = 1;
  bool zero = false;
  for (int64_t d : dims) zero |= d == 0;
  if (!zero) {
    for (int64_t d : dims) {
      if (count > std::numeric_limits<uint64_t>::max() / 16 / static_cast<uint64_t>(d)) {
        return InvalidArgument("shape is too large");
      }
      count *= static_cast<uint64_t>(d);
    }
  } else {
    count = 0;
  }
  uint64_t data_size = count * DTypeSize(dtype);
  uint64_t available = bytes.size() - prefix - header_len;
  if (data_size != available) {
    return InvalidArgument("data is " + std::to_string(available) + " bytes, shape " +
                           ShapeToString(dims) + " of " + DTypeName(dtype) + " needs " +
                           std::to_string(data_size));
  }
  ACCEL_ASSIGN_OR_RETURN(Tensor t, Tensor::Create(dtype, dims));
  if (data_size) std::memcpy(t.data(), bytes.data() + prefix + header_len, data_size);
  if (dtype == DType::kBool) {
    // Normalize so that every stored bool is 0 or 1, as kernels assume.
    for (uint8_t& b : t.values<uint8_t>()) b = b != 0;
  }
  return t;
}

}  // namespace

Result<Tensor> DecodeNpy(std::span<const std::byte> bytes, const std::string& label) {
  Result<Tensor> t = Decode(bytes);
  if (!t.ok()) return Status(t.status().code(), label + ": " + t.status().message());
  return t;
}

Result<Tensor> ReadNpy(const std::string& path) {
  ACCEL_ASSIGN_OR_RETURN(std::string bytes, core::ReadFile(path));
  return DecodeNpy(std::as_bytes(std::span(bytes)), path);
}

Result<std::string> EncodeNpy(const Tensor& tensor) {
  ACCEL_ASSIGN_OR_RETURN(std::string descr, DescrFromDType(tensor.dtype()));
  std::string shape = "(";
  for (int64_t d : tensor.shape()) shape += std::to_string(d) + ", ";
  if (tensor.rank() > 0) shape.resize(shape.size() - (tensor.rank() == 1 ? 1 : 2));
  shape += ")";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces and a final newline so the data starts on a 64-byte boundary.
  bool v2 = false;
  size_t prefix = kMagicSize + 2 + 2;
  size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  if (total - prefix > 0xffff) {
    v2 = true;
    prefix = kMagicSize + 2 + 4;
    total = (prefix + header.size() + 1 + 63) / 64 * 64;
  }
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';

  std::string out(kMagic, kMagicSize);
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  uint32_t len = static_cast<uint32_t>(header.size());
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  out += header;
  if (tensor.byte_size()) {
    out.append(static_cast<const char*>(tensor.data()), tensor.byte_size());
  }
  return out;
}

Status WriteNpy(const std::string& path, const Tensor& tensor) {
  ACCEL_ASSIGN_OR_RETURN(std::string bytes, EncodeNpy(tensor));
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file) return IoError(path + ": cannot write file");
  return Status::Ok();
}

}  // namespace accel::cli
