// The detectors `detect` knows: where their files live, how to feed them, how to decode them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "accel/model.h"
#include "preprocess.h"

namespace detect {

enum class Architecture { kYolox, kFastestDet, kUltraface };

struct ModelSpec {
  std::string name;           // "yolox_nano"
  std::string relative_path;  // model file under the model directory
  std::string default_image;  // under the model directory
  Architecture architecture = Architecture::kYolox;
  PreprocessSpec preprocess;  // width/height: the default, replaced by the model's own input
  float score_threshold = 0.5f;
  float iou_threshold = 0.45f;
};

// Looks up a built-in model by name ("yolox_nano", "fastestdet", "ultraface_rfb320").
std::optional<ModelSpec> FindModelSpec(std::string_view name);
// "yolox_nano|fastestdet|ultraface_rfb320"
std::string ModelSpecNames();

// For a model file given by path: recognizes the architecture from the model's input and output
// shapes. NotFound-style InvalidArgument when it matches none of the known layouts.
accel::Result<ModelSpec> SpecForModelFile(const accel::Model& model, const std::string& path);

// Sets spec.preprocess width/height from the model's input (when the model fixes them) and
// checks the model has one image input of shape [1, 3, H, W].
accel::Status AdaptSpecToModel(const accel::Model& model, ModelSpec& spec);

}  // namespace detect
