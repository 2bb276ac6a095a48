// One detection pass: preprocess, run the session, decode, NMS, map boxes onto the image.
#pragma once

#include <vector>

#include "accel/session.h"
#include "detection.h"
#include "image.h"
#include "model_zoo.h"

namespace detect {

struct DetectResult {
  std::vector<Detection> detections;  // image pixels, descending score
  double inference_ms = 0;            // Session::Run alone
};

// `spec` must already be adapted to the session's model (AdaptSpecToModel). At most the 5000
// best-scored candidates enter NMS.
accel::Result<DetectResult> Detect(accel::Session& session, const ModelSpec& spec,
                                   const Image& image, float score_threshold);

}  // namespace detect
