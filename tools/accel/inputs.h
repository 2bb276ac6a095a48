// Input preparation shared by `accel run` and `accel bench`: files given with --input, random
// tensors for the rest, shapes for symbolic dimensions from --shape.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "accel/model.h"
#include "accel/status.h"
#include "accel/tensor.h"

namespace accel::cli {

struct InputSpec {
  std::vector<std::string> files;   // --input NAME=FILE.npy|.pb
  std::vector<std::string> shapes;  // --shape NAME=1x3x224x224
  uint64_t seed = 0;
};

// One tensor per caller-fed model input (plus any initializer input named in --input).
// Notes, such as a symbolic dim defaulted to 1, go to stderr.
Result<std::vector<NamedTensor>> PrepareInputs(const Model& model, const InputSpec& spec);

// A file-name-safe version of a tensor name: characters other than [A-Za-z0-9._-] become '_'.
std::string SanitizeFileName(const std::string& name);

}  // namespace accel::cli
