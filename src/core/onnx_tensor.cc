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

Status ReadExternalData(const onnx::TensorProto& proto, const std::string& base_dir,
                        uint64_t byte_size, void* dst) {
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
  if (byte_size == 0) return Status::Ok();
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(byte_size));
  if (!in || static_cast<uint64_t>(in.gcount()) != byte_size) {
    return IoError(label + ": reading external data file '" + path.string() + "' failed");
  }
  return Status::Ok();
}

template <typename Field>
Status CheckFieldCount(const onnx::TensorProto& proto, const Field& field, const char* field_name,
                       uint64_t count) {
  if (static_cast<uint64_t>(field.size()) != count) {
    return InvalidModel(
        TensorLabel(proto) + ": " + field_name + " has " + std::to_string(field.size()) +
        " values, but dims " +
        ShapeToString(std::vector<int64_t>(proto.dims().begin(), proto.dims().end())) + " need " +
        std::to_string(count));
  }
  return Status::Ok();
}

// Copies a repeated field into `dst`, narrowing each value to T (ONNX stores small integer
// types and 16-bit floats as bit patterns in int32_data, unsigned 32-bit in uint64_data).
template <typename T, typename Field>
Status CopyField(const onnx::TensorProto& proto, const Field& field, const char* field_name,
                 uint64_t count, void* dst) {
  ACCEL_RETURN_IF_ERROR(CheckFieldCount(proto, field, field_name, count));
  T* out = static_cast<T*>(dst);
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<T>(field.Get(i));
  return Status::Ok();
}

Status CopyTypedData(const onnx::TensorProto& proto, DType dtype, uint64_t count, void* dst) {
  switch (dtype) {
    case DType::kFloat32:
      return CopyField<float>(proto, proto.float_data(), "float_data", count, dst);
    case DType::kInt32:
      return CopyField<int32_t>(proto, proto.int32_data(), "int32_data", count, dst);
    case DType::kInt16:
      return CopyField<int16_t>(proto, proto.int32_data(), "int32_data", count, dst);
    case DType::kInt8:
      return CopyField<int8_t>(proto, proto.int32_data(), "int32_data", count, dst);
    case DType::kUInt16:
    case DType::kFloat16:
    case DType::kBFloat16:
      return CopyField<uint16_t>(proto, proto.int32_data(), "int32_data", count, dst);
    case DType::kUInt8:
      return CopyField<uint8_t>(proto, proto.int32_data(), "int32_data", count, dst);
    case DType::kBool: {
      ACCEL_RETURN_IF_ERROR(CheckFieldCount(proto, proto.int32_data(), "int32_data", count));
      uint8_t* out = static_cast<uint8_t*>(dst);
      for (int i = 0; i < proto.int32_data_size(); ++i) out[i] = proto.int32_data(i) != 0;
      return Status::Ok();
    }
    case DType::kInt64:
      return CopyField<int64_t>(proto, proto.int64_data(), "int64_data", count, dst);
    case DType::kFloat64:
      return CopyField<double>(proto, proto.double_data(), "double_data", count, dst);
    case DType::kUInt32:
      return CopyField<uint32_t>(proto, proto.uint64_data(), "uint64_data", count, dst);
    case DType::kUInt64:
      return CopyField<uint64_t>(proto, proto.uint64_data(), "uint64_data", count, dst);
    case DType::kUndefined:
      break;
  }
  return Internal(TensorLabel(proto) + ": unhandled dtype");
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
  if (name.empty()) name = "#" + std::to_string(onnx_type);
  return Unsupported("ONNX data type " + name + " is not supported");
}

Result<Tensor> TensorFromProto(const onnx::TensorProto& proto, const std::string& base_dir) {
  const std::string label = TensorLabel(proto);
  Result<DType> dtype = DTypeFromOnnx(proto.data_type());
  if (!dtype.ok()) return WithPrefix(label, dtype.status());
  if (proto.has_segment()) return Unsupported(label + ": segmented tensors are not supported");
  const size_t element_size = DTypeSize(*dtype);
  ACCEL_ASSIGN_OR_RETURN(uint64_t count, CheckedElementCount(proto, element_size));
  const uint64_t byte_size = count * element_size;

  Result<Tensor> created = Tensor::Create(*dtype, Shape(proto.dims().begin(), proto.dims().end()));
  if (!created.ok()) return WithPrefix(label, created.status());
  Tensor tensor = std::move(created).value();

  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    ACCEL_RETURN_IF_ERROR(ReadExternalData(proto, base_dir, byte_size, tensor.data()));
  } else if (proto.has_raw_data()) {
    if (proto.raw_data().size() != byte_size) {
      return InvalidModel(label + ": raw_data has " + std::to_string(proto.raw_data().size()) +
                          " bytes, but " + DTypeName(*dtype) + " dims " +
                          ShapeToString(tensor.shape()) + " need " + std::to_string(byte_size));
    }
    if (byte_size > 0) std::memcpy(tensor.data(), proto.raw_data().data(), byte_size);
  } else {
    ACCEL_RETURN_IF_ERROR(CopyTypedData(proto, *dtype, count, tensor.data()));
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
  std::string dir = fs::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  Result<Tensor> tensor = TensorFromProto(proto, dir);
  if (!tensor.ok()) return WithPrefix(path, tensor.status());
  return tensor;
}

}  // namespace accel::core
