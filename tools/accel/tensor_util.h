// Tensor helpers shared by the subcommands: loading input files, random inputs, element access
// as double and summaries.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "accel/status.h"
#include "accel/tensor.h"

namespace accel::cli {

// Loads a .npy (numpy) or .pb (serialized onnx.TensorProto) file, chosen by extension.
// `pb_name` receives the proto's name field for .pb files ("" otherwise).
Result<Tensor> LoadTensorFile(const std::string& path, std::string* pb_name = nullptr);

// A tensor of `dtype`/`shape` filled from `rng`: floats uniform in [-1, 1], integers in
// [0, 4], bools fair coin flips.
Result<Tensor> RandomTensor(DType dtype, const Shape& shape, std::mt19937_64& rng);

// Element i as a double (float16/bfloat16 converted; 64-bit integers may round).
double ElementAsDouble(const Tensor& t, int64_t i);
bool IsFloating(DType dtype);
// Element i printed exactly for integers, with enough digits for floats.
std::string FormatElement(const Tensor& t, int64_t i);
// "[0,2,1]": the multi-index of flat index i in a row-major shape.
std::string FormatIndex(const Shape& shape, int64_t i);

struct Summary {
  double min = 0, max = 0, mean = 0;
  int64_t nan_count = 0;
};
// Min/max/mean over the non-NaN elements.
Summary Summarize(const Tensor& t);

}  // namespace accel::cli
