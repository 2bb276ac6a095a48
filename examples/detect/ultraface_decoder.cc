#include <algorithm>

#include "decoders.h"

namespace detect {

accel::Result<std::vector<Detection>> DecodeUltraface(const accel::Tensor& scores,
                                                      const accel::Tensor& boxes, int input_width,
                                                      int input_height, float score_threshold) {
  const accel::Shape& s = scores.shape();
  const accel::Shape& b = boxes.shape();
  if (scores.dtype() != accel::DType::kFloat32 || boxes.dtype() != accel::DType::kFloat32 ||
      s.size() != 3 || b.size() != 3 || s[0] != 1 || b[0] != 1 || s[2] != 2 || b[2] != 4 ||
      s[1] != b[1]) {
    return accel::InvalidArgument("Ultraface outputs must be float32 scores [1, N, 2] and boxes " +
                                  std::string("[1, N, 4], got ") + accel::ShapeToString(s) +
                                  " and " + accel::ShapeToString(b));
  }
  const float* score = scores.data_as<float>();
  const float* box = boxes.data_as<float>();
  std::vector<Detection> detections;
  for (int64_t i = 0; i < s[1]; ++i, score += 2, box += 4) {
    if (!(score[1] > score_threshold)) continue;
    // The graph's prior decoding can reach slightly outside [0, 1]; keep the box ordered.
    const float x0 = box[0] * input_width;
    const float y0 = box[1] * input_height;
    const float x1 = box[2] * input_width;
    const float y1 = box[3] * input_height;
    detections.push_back(
        {{std::min(x0, x1), std::min(y0, y1), std::max(x0, x1), std::max(y0, y1)}, score[1], 0});
  }
  return detections;
}

}  // namespace detect
