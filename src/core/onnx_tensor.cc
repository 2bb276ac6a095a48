#include "core/onnx_tensor.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <system_error>

#include "core/onnx_importer.h"

namespace accel::core {

// raw_data and external data are little-endian by the ONNX spec; we copy them verbatim.
static_assert(std::endian::native == std::endian::little, "libaccel assumes a little-endian host");

namespace fs = std::filesystem;

namespace {

// Largest tensor an importer accepts; matches Tensor::Create's own limit.
constexpr uint64_t kMaxTensorBytes = uint64_t{1} << 40;

std::string TensorLabel(const onnx::TensorProto& proto) { return "tensor '" + proto.name() + "'"; }

Status WithPrefix(const std::string& prefix, const Status& status) {
  return Status(status.code(), prefix + ": " + status.message());
}

std::string DimsString(const onnx::TensorProto& proto) {
  return ShapeToString(std::vector<int64_t>(proto.dims().begin(), proto.dims().end()));
}

// Element count of `dims`, rejecting negative dims and sizes past kMaxTensorBytes.
Result<uint64_t> CheckedElementCount(const onnx::TensorProto& proto, size_t element_size) {
  uint64_t count = 1;
  for (int64_t d : proto.dims()) {
    if (d < 0) {
      return InvalidModel(TensorLabel(proto) + ": negative dimension " + std::to_string(d));
    }
    if (d != 0 && count > kMaxTensorBytes / static_cast<uint64_t>(d)) {
      return InvalidModel(TensorLabel(proto) + ": dims overflow the maximum tensor size");
    }
    count *= static_cast<uint64_t>(d);
  }
  if (count > kMaxTensorBytes / element_size) {
    return InvalidModel(TensorLabel(proto) + ": larger than the 1 TiB tensor limit");
  }
  return count;
}

Result<uint64_t> ParseUnsigned(const onnx::TensorProto& proto, const std::string& key,
                               const std::string& text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return InvalidModel(TensorLabel(proto) + ": external data " + key + " '" + text +
                        "' is not a non-negative integer");
  }
  return value;
}

// True when `path` is `dir` or lies below it; both must be canonical.
bool IsWithin(const fs::path& dir, const fs::path& path) {
  auto [dir_end, path_it] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
  return dir_end == dir.end();
}

// Resolves `location` against `base_dir`, refusing anything that could leave that directory.
Result<fs::path> ResolveExternalPath(const onnx::TensorProto& proto, const std::string& location,
                                     const std::string& base_dir) {
  const std::string label = TensorLabel(proto);
  if (base_dir.empty()) {
    return InvalidArgument(label + ": uses external data '" + location +
                           "' but no external data directory was given");
  }
  if (location.empty()) return InvalidModel(label + ": external data location is empty");
  if (location.find('\0') != std::string::npos) {
    return InvalidModel(label + ": external data location contains a NUL byte");
  }
  const fs::path rel(location);
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory() ||
      location.front() == '/' || location.front() == '\\') {
    return InvalidModel(label + ": external data location '" + location +
                        "' is an absolute path; it must be relative to the model directory");
  }
  // Split on both separators so "a\..\b" from a Windows writer is caught too.
  size_t start = 0;
  while (start <= location.size()) {
    size_t end = location.find_first_of("/\\", start);
    if (end == std::string::npos) end = location.size();
    if (location.compare(start, end - start, "..") == 0 && end - start == 2) {
      return InvalidModel(label + ": external data location '" + location +
                          "' contains '..'; it must stay inside the model directory");
    }
    start = end + 1;
  }
  std::error_code ec;
  const fs::path base = fs::canonical(base_dir, ec);
  if (ec) {
    return NotFound(label + ": external data directory '" + base_dir + "': " + ec.message());
  }
  const fs::path full = fs::canonical(base / rel, ec);
  if (ec) {
    return NotFound(label + ": external data file '" + (base / rel).string() +
                    "': " + ec.message());
  }
  if (!IsWithin(base, full)) {
    return InvalidModel(label + ": external data location '" + location + "' resolves to '" +
                        full.string() + "', outside the model directory");
  }
  if (!fs::is_regular_file(full, ec)) {
    return InvalidModel(label + ": external data location '" + location +
                        "' is not a regular file");
  }
  return full;
}

// Where an external tensor's bytes are, after every check that can fail without reading them.
struct ExternalSpan {
  fs::path path;
  uint64_t offset = 0;
};

Result<ExternalSpan> LocateExternalData(const onnx::TensorProto& proto, const std::string& base_dir,
                                        uint64_t byte_size) {
  const std::string label = TensorLabel(proto);
  std::string location;
  bool has_location = false;
  uint64_t offset = 0;
  std::optional<uint64_t> length;
  for (const onnx::StringStringEntryProto& entry : proto.external_data()) {
    if (entry.key() == "location") {
      location = entry.value();
      has_location = true;
    } else if (entry.key() == "offset") {
      ACCEL_ASSIGN_OR_RETURN(offset, ParseUnsigned(proto, "offset", entry.value()));
    } else if (entry.key() == "length") {
      ACCEL_ASSIGN_OR_RETURN(length, ParseUnsigned(proto, "length", entry.value()));
    }
  }
  if (!has_location) return InvalidModel(label + ": external data has no 'location'");
  if (length && *length != byte_size) {
    return InvalidModel(label + ": external data length " + std::to_string(*length) +
                        " does not match the " + std::to_string(byte_size) +
                        " bytes its dtype and dims need");
  }
  ACCEL_ASSIGN_OR_RETURN(fs::path path, ResolveExternalPath(proto, location, base_dir));
  std::error_code ec;
  const uint64_t file_size = fs::file_size(path, ec);
  if (ec) return IoError(label + ": external data file '" + path.string() + "': " + ec.message());
  if (offset > file_size || byte_size > file_size - offset) {
    return InvalidModel(label + ": external data file '" + location + "' has " +
                        std::to_string(file_size) + " bytes; offset " + std::to_string(offset) +
                        " + length " + std::to_string(byte_size) + " is past its end");
  }
  return ExternalSpan{std::move(path), offset};
}

Status ReadExternalData(const onnx::TensorProto& proto, const ExternalSpan& span,
                        uint64_t byte_size, void* dst) {
  if (byte_size == 0) return Status::Ok();
  std::ifstream in(span.path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(span.offset));
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(byte_size));
  if (!in || static_cast<uint64_t>(in.gcount()) != byte_size) {
    return IoError(TensorLabel(proto) + ": reading external data file '" + span.path.string() +
                   "' failed");
  }
  return Status::Ok();
}

// The repeated field that holds `dtype` when there is no raw_data: ONNX stores small integer
// types, bool and 16-bit floats as bit patterns in int32_data, unsigned 32-bit in uint64_data.
struct TypedField {
  const char* name;
  int size;
};

TypedField TypedFieldOf(const onnx::TensorProto& proto, DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return {"float_data", proto.float_data_size()};
    case DType::kInt64:
      return {"int64_data", proto.int64_data_size()};
    case DType::kFloat64:
      return {"double_data", proto.double_data_size()};
    case DType::kUInt32:
    case DType::kUInt64:
      return {"uint64_data", proto.uint64_data_size()};
    default:
      return {"int32_data", proto.int32_data_size()};
  }
}

template <typename T, typename Field>
void CopyField(const Field& field, void* dst) {
  T* out = static_cast<T*>(dst);
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<T>(field.Get(i));
}

// Requires the field size to have been checked against the tensor's element count.
void CopyTypedData(const onnx::TensorProto& proto, DType dtype, void* dst) {
  switch (dtype) {
    case DType::kFloat32:
      return CopyField<float>(proto.float_data(), dst);
    case DType::kInt32:
      return CopyField<int32_t>(proto.int32_data(), dst);
    case DType::kInt16:
      return CopyField<int16_t>(proto.int32_data(), dst);
    case DType::kInt8:
      return CopyField<int8_t>(proto.int32_data(), dst);
    case DType::kUInt16:
    case DType::kFloat16:
    case DType::kBFloat16:
      return CopyField<uint16_t>(proto.int32_data(), dst);
    case DType::kUInt8:
      return CopyField<uint8_t>(proto.int32_data(), dst);
    case DType::kBool: {
      uint8_t* out = static_cast<uint8_t*>(dst);
      for (int i = 0; i < proto.int32_data_size(); ++i) out[i] = proto.int32_data(i) != 0;
      return;
    }
    case DType::kInt64:
      return CopyField<int64_t>(proto.int64_data(), dst);
    case DType::kFloat64:
      return CopyField<double>(proto.double_data(), dst);
    case DType::kUInt32:
      return CopyField<uint32_t>(proto.uint64_data(), dst);
    case DType::kUInt64:
      return CopyField<uint64_t>(proto.uint64_data(), dst);
    case DType::kUndefined:
      return;
  }
}

// Names of ONNX types newer than the protobuf headers libaccel builds against.
const char* NewerOnnxTypeName(int32_t onnx_type) {
  static const char* const kNames[] = {
      "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4",      "INT4",
      "FLOAT4E2M1",   "FLOAT8E8M0",     "UINT2",      "INT2",           "FLOAT6E2M3", "FLOAT6E3M2"};
  constexpr int32_t kFirst = 17;
  if (onnx_type < kFirst || onnx_type >= kFirst + static_cast<int32_t>(std::size(kNames))) {
    return nullptr;
  }
  return kNames[onnx_type - kFirst];
}

}  // namespace

Result<DType> DTypeFromOnnx(int32_t onnx_type) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT:
      return DType::kFloat32;
    case onnx::TensorProto::UINT8:
      return DType::kUInt8;
    case onnx::TensorProto::INT8:
      return DType::kInt8;
    case onnx::TensorProto::UINT16:
      return DType::kUInt16;
    case onnx::TensorProto::INT16:
      return DType::kInt16;
    case onnx::TensorProto::INT32:
      return DType::kInt32;
    case onnx::TensorProto::INT64:
      return DType::kInt64;
    case onnx::TensorProto::BOOL:
      return DType::kBool;
    case onnx::TensorProto::FLOAT16:
      return DType::kFloat16;
    case onnx::TensorProto::DOUBLE:
      return DType::kFloat64;
    case onnx::TensorProto::UINT32:
      return DType::kUInt32;
    case onnx::TensorProto::UINT64:
      return DType::kUInt64;
    case onnx::TensorProto::BFLOAT16:
      return DType::kBFloat16;
    default:
      break;
  }
  std::string name =
      onnx::TensorProto::DataType_IsValid(onnx_type)
          ? onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(onnx_type))
          : "";
  if (name.empty() && NewerOnnxTypeName(onnx_type)) name = NewerOnnxTypeName(onnx_type);
  // Appending (not "#" + ...) avoids a GCC 12 -Wrestrict false positive.
  if (name.empty()) name = std::string("#").append(std::to_string(onnx_type));
  return Unsupported("ONNX data type " + name + " is not supported");
}

Result<Tensor> TensorFromProto(const onnx::TensorProto& proto, const std::string& base_dir) {
  return TensorFromProto(proto, base_dir, std::nullopt, Tensor::Create);
}

Result<Tensor> TensorFromProto(const onnx::TensorProto& proto, const std::string& base_dir,
                               std::optional<std::span<const std::byte>> raw_data,
                               const TensorAllocator& allocate) {
  const std::string label = TensorLabel(proto);
  const bool has_raw = raw_data.has_value() || proto.has_raw_data();
  const std::span<const std::byte> raw =
      raw_data ? *raw_data : std::as_bytes(std::span(proto.raw_data()));
  Result<DType> dtype = DTypeFromOnnx(proto.data_type());
  if (!dtype.ok()) return WithPrefix(label, dtype.status());
  if (proto.has_segment()) return Unsupported(label + ": segmented tensors are not supported");
  const size_t element_size = DTypeSize(*dtype);
  ACCEL_ASSIGN_OR_RETURN(uint64_t count, CheckedElementCount(proto, element_size));
  const uint64_t byte_size = count * element_size;

  // Every size check happens before allocating, so a tiny malformed model cannot make us
  // reserve gigabytes.
  const bool external = proto.data_location() == onnx::TensorProto::EXTERNAL;
  ExternalSpan span;
  if (external) {
    ACCEL_ASSIGN_OR_RETURN(span, LocateExternalData(proto, base_dir, byte_size));
  } else if (has_raw) {
    if (raw.size() != byte_size) {
      return InvalidModel(label + ": raw_data has " + std::to_string(raw.size()) + " bytes, but " +
                          DTypeName(*dtype) + " dims " + DimsString(proto) + " need " +
                          std::to_string(byte_size));
    }
  } else {
    const TypedField field = TypedFieldOf(proto, *dtype);
    if (static_cast<uint64_t>(field.size) != count) {
      return InvalidModel(label + ": " + field.name + " has " + std::to_string(field.size) +
                          " values, but dims " + DimsString(proto) + " need " +
                          std::to_string(count));
    }
  }

  Result<Tensor> created = allocate(*dtype, Shape(proto.dims().begin(), proto.dims().end()));
  if (!created.ok()) return WithPrefix(label, created.status());
  Tensor tensor = std::move(created).value();
  if (external) {
    ACCEL_RETURN_IF_ERROR(ReadExternalData(proto, span, byte_size, tensor.data()));
  } else if (has_raw) {
    if (byte_size > 0) std::memcpy(tensor.data(), raw.data(), byte_size);
  } else {
    CopyTypedData(proto, *dtype, tensor.data());
  }
  return tensor;
}

Result<Tensor> ReadTensorFile(const std::string& path, std::string* name) {
  ACCEL_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  onnx::TensorProto proto;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidModel(path + ": not a valid serialized ONNX TensorProto");
  }
  if (name) *name = proto.name();
  const fs::path dir = fs::path(path).parent_path();
  Result<Tensor> tensor = TensorFromProto(proto, (dir.empty() ? fs::path(".") : dir).string());
  if (!tensor.ok()) return WithPrefix(path, tensor.status());
  return tensor;
}

}  // namespace accel::core
