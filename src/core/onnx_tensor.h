// Conversion of ONNX TensorProto messages (initializers, Constant values, .pb test data).
#pragma once

#include <onnx/onnx_pb.h>

#include <functional>
#include <optional>
#include <span>
#include <string>

#include "accel/status.h"
#include "accel/tensor.h"

namespace accel::core {

// Maps ONNX's data_type to a libaccel dtype; Unsupported naming the type otherwise.
Result<DType> DTypeFromOnnx(int32_t onnx_type);

// Copies a TensorProto into an owning Tensor. Checks that the data size matches dtype and dims
// (raw_data or the typed repeated fields). External data is read from `base_dir`, which
// confines it: absolute paths, ".." and symlinks leaving the directory are rejected, as are an
// empty base_dir and offsets/lengths past the end of the file. Errors name the tensor:
// InvalidModel for inconsistent data or an escaping location, InvalidArgument for an empty
// base_dir, NotFound for a missing file, Unsupported for dtypes libaccel lacks (string, float8).
// Sizes are checked before anything is allocated.
Result<Tensor> TensorFromProto(const onnx::TensorProto& proto, const std::string& base_dir);
// Where a tensor's memory comes from: Tensor::Create, or a caller's block of memory.
using TensorAllocator = std::function<Result<Tensor>(DType, Shape)>;
// The same with the raw_data bytes given apart from the proto (SplitRawData, onnx_wire.h;
// nullopt reads the proto's own field) and the tensor's memory from `allocate` (called once,
// after every size check).
Result<Tensor> TensorFromProto(const onnx::TensorProto& proto, const std::string& base_dir,
                               std::optional<std::span<const std::byte>> raw_data,
                               const TensorAllocator& allocate);

// Reads a serialized TensorProto file (the ONNX backend-test input_N.pb / output_N.pb layout).
// `name` receives the proto's name field.
Result<Tensor> ReadTensorFile(const std::string& path, std::string* name);

}  // namespace accel::core
