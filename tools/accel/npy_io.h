// Reading and writing numpy .npy files (format versions 1.0, 2.0 and 3.0).
//
// Supported: little-endian (or byte-order-free) C-order arrays of f2 f4 f8 i1 i2 i4 i8 u1 u2 u4
// u8 b1. Malformed, truncated, big-endian or Fortran-order files are rejected with an error that
// names the file and the problem; nothing is read out of bounds.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "accel/status.h"
#include "accel/tensor.h"

namespace accel::cli {

// Decodes a whole .npy file image. `label` (usually the path) prefixes errors.
Result<Tensor> DecodeNpy(std::span<const std::byte> bytes, const std::string& label);
Result<Tensor> ReadNpy(const std::string& path);

// Encodes a tensor as a .npy image (version 1.0, or 2.0 when the header needs it).
Result<std::string> EncodeNpy(const Tensor& tensor);
Status WriteNpy(const std::string& path, const Tensor& tensor);

}  // namespace accel::cli
