#include "detector.h"

#include <algorithm>
#include <chrono>

#include "decoders.h"
#include "nms.h"

namespace detect {
namespace {

constexpr size_t kMaxCandidates = 5000;

accel::Result<std::vector<Detection>> Decode(const ModelSpec& spec,
                                             const std::vector<accel::NamedTensor>& outputs,
                                             float score_threshold) {
  const int width = spec.preprocess.width;
  const int height = spec.preprocess.height;
  switch (spec.architecture) {
    case Architecture::kYolox:
      return DecodeYolox(outputs.at(0).tensor, width, height, score_threshold);
    case Architecture::kFastestDet:
      return DecodeFastestDet(outputs.at(0).tensor, width, height, score_threshold);
    case Architecture::kUltraface:
      return DecodeUltraface(outputs.at(0).tensor, outputs.at(1).tensor, width, height,
                             score_threshold);
  }
  return accel::Internal("unknown architecture");
}

}  // namespace

accel::Result<DetectResult> Detect(accel::Session& session, const ModelSpec& spec,
                                   const Image& image, float score_threshold) {
  const ModelInput input = Preprocess(image, spec.preprocess);
  const accel::ValueInfo& input_info = session.model().inputs().at(0);
  const std::vector<accel::NamedTensor> inputs = {
      {input_info.name, accel::Tensor::View(accel::DType::kFloat32,
                                            {1, 3, spec.preprocess.height, spec.preprocess.width},
                                            input.chw.data())}};

  // Ultraface's outputs are looked up by name so that their order in the file does not matter.
  const std::vector<std::string> ultraface_outputs = {"scores", "boxes"};
  DetectResult result;
  const auto start = std::chrono::steady_clock::now();
  auto outputs = spec.architecture == Architecture::kUltraface
                     ? session.Run(inputs, ultraface_outputs)
                     : session.Run(inputs);
  result.inference_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!outputs.ok()) return outputs.status();
  if (outputs->size() < (spec.architecture == Architecture::kUltraface ? 2u : 1u)) {
    return accel::InvalidArgument("the model returned too few outputs");
  }

  ACCEL_ASSIGN_OR_RETURN(std::vector<Detection> candidates,
                         Decode(spec, *outputs, score_threshold));
  // NMS is quadratic; a very low threshold must not make it run for minutes.
  if (candidates.size() > kMaxCandidates) {
    std::nth_element(candidates.begin(), candidates.begin() + kMaxCandidates, candidates.end(),
                     [](const Detection& a, const Detection& b) { return a.score > b.score; });
    candidates.resize(kMaxCandidates);
  }
  result.detections = NonMaxSuppression(std::move(candidates), spec.iou_threshold);
  for (Detection& detection : result.detections) {
    detection.box = ToImageBox(detection.box, input, image.width, image.height);
  }
  return result;
}

}  // namespace detect
