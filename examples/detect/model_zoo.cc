#include "model_zoo.h"

#include <vector>

namespace detect {
namespace {

// The recipes each model was trained with (see each model's expected.json).
std::vector<ModelSpec> BuiltinSpecs() {
  return {
      {.name = "yolox_nano",
       .relative_path = "yolox_nano/yolox_nano.onnx",
       .default_image = "images/dog.jpg",
       .architecture = Architecture::kYolox,
       .preprocess = {.width = 416,
                      .height = 416,
                      .letterbox = true,
                      .pad_value = 114,
                      .order = ChannelOrder::kBgr,
                      .mean = 0.0f,
                      .scale = 1.0f},
       .score_threshold = 0.3f,
       .iou_threshold = 0.45f},
      {.name = "fastestdet",
       .relative_path = "fastestdet/FastestDet.onnx",
       .default_image = "images/dog.jpg",
       .architecture = Architecture::kFastestDet,
       .preprocess = {.width = 352,
                      .height = 352,
                      .letterbox = false,
                      .order = ChannelOrder::kBgr,
                      .mean = 0.0f,
                      .scale = 1.0f / 255.0f},
       .score_threshold = 0.65f,
       .iou_threshold = 0.45f},
      {.name = "ultraface_rfb320",
       .relative_path = "ultraface_rfb320/version-RFB-320.onnx",
       .default_image = "images/faces_1.jpg",
       .architecture = Architecture::kUltraface,
       .preprocess = {.width = 320,
                      .height = 240,
                      .letterbox = false,
                      .order = ChannelOrder::kRgb,
                      .mean = 127.0f,
                      .scale = 1.0f / 128.0f},
       .score_threshold = 0.7f,
       .iou_threshold = 0.3f},
  };
}

ModelSpec SpecFor(Architecture architecture) {
  for (const ModelSpec& spec : BuiltinSpecs()) {
    if (spec.architecture == architecture) return spec;
  }
  return {};
}

}  // namespace

std::optional<ModelSpec> FindModelSpec(std::string_view name) {
  for (const ModelSpec& spec : BuiltinSpecs()) {
    if (spec.name == name) return spec;
  }
  return std::nullopt;
}

std::string ModelSpecNames() {
  std::string names;
  for (const ModelSpec& spec : BuiltinSpecs()) {
    names += (names.empty() ? "" : "|") + spec.name;
  }
  return names;
}

accel::Result<ModelSpec> SpecForModelFile(const accel::Model& model, const std::string& path) {
  const std::vector<accel::ValueInfo>& outputs = model.outputs();
  std::optional<Architecture> architecture;
  if (outputs.size() == 1 && outputs[0].dims.size() == 3) {
    architecture = Architecture::kYolox;
  } else if (outputs.size() == 1 && outputs[0].dims.size() == 4) {
    architecture = Architecture::kFastestDet;
  } else if (outputs.size() == 2 && outputs[0].name == "scores" && outputs[1].name == "boxes") {
    architecture = Architecture::kUltraface;
  }
  if (!architecture) {
    return accel::InvalidArgument("'" + path +
                                  "' has neither a YOLOX output [1, N, 85], a FastestDet output " +
                                  "[1, 85, H, W] nor Ultraface 'scores' and 'boxes' outputs");
  }
  ModelSpec spec = SpecFor(*architecture);
  spec.name = path;
  spec.relative_path = path;
  return spec;
}

accel::Status AdaptSpecToModel(const accel::Model& model, ModelSpec& spec) {
  if (model.inputs().size() != 1) {
    return accel::InvalidArgument("expected a model with one image input, '" + spec.name +
                                  "' has " + std::to_string(model.inputs().size()));
  }
  const accel::ValueInfo& input = model.inputs()[0];
  if (input.dtype != accel::DType::kFloat32 || input.dims.size() != 4 ||
      (input.dims[1] != 3 && input.dims[1] != -1)) {
    return accel::InvalidArgument("expected a float32 image input [1, 3, H, W], '" + input.name +
                                  "' is " + accel::DTypeName(input.dtype) + " " +
                                  accel::ShapeToString(input.dims));
  }
  // Dynamic sizes (-1) keep the recipe's default; absurd fixed sizes are refused before any
  // buffer is sized by them.
  constexpr int64_t kMaxSide = 8192;
  if (input.dims[2] > kMaxSide || input.dims[3] > kMaxSide) {
    return accel::InvalidArgument("image input " + accel::ShapeToString(input.dims) +
                                  " is larger than " + std::to_string(kMaxSide) + " pixels");
  }
  if (input.dims[2] > 0) spec.preprocess.height = static_cast<int>(input.dims[2]);
  if (input.dims[3] > 0) spec.preprocess.width = static_cast<int>(input.dims[3]);
  return accel::Status::Ok();
}

}  // namespace detect
