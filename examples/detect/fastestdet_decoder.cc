#include <cmath>

#include "decoders.h"

namespace detect {

accel::Result<std::vector<Detection>> DecodeFastestDet(const accel::Tensor& output, int input_width,
                                                       int input_height, float score_threshold) {
  const accel::Shape& shape = output.shape();
  if (output.dtype() != accel::DType::kFloat32 || shape.size() != 4 || shape[0] != 1 ||
      shape[1] <= 5 || shape[2] <= 0 || shape[3] <= 0) {
    return accel::InvalidArgument("FastestDet output must be float32 [1, 5 + classes, H, W], got " +
                                  accel::ShapeToString(shape));
  }
  const int64_t channels = shape[1];
  const int64_t grid_h = shape[2];
  const int64_t grid_w = shape[3];
  const int64_t plane = grid_h * grid_w;
  const float* data = output.data_as<float>();
  const auto at = [&](int64_t channel, int64_t cell) { return data[channel * plane + cell]; };
  const auto sigmoid = [](float v) { return 1.0f / (1.0f + std::exp(-v)); };

  std::vector<Detection> detections;
  for (int64_t gy = 0; gy < grid_h; ++gy) {
    for (int64_t gx = 0; gx < grid_w; ++gx) {
      const int64_t cell = gy * grid_w + gx;
      int64_t best = 5;
      for (int64_t c = 6; c < channels; ++c) {
        if (at(c, cell) > at(best, cell)) best = c;
      }
      const float score =
          std::pow(at(0, cell), 0.6f) * std::pow(std::max(at(best, cell), 0.0f), 0.4f);
      if (!(score > score_threshold)) continue;  // also drops NaN
      // Offsets move the centre within +-1 cell; sizes are fractions of the input.
      const float cx = (gx + std::tanh(at(1, cell))) / grid_w * input_width;
      const float cy = (gy + std::tanh(at(2, cell))) / grid_h * input_height;
      const float half_w = sigmoid(at(3, cell)) * input_width / 2;
      const float half_h = sigmoid(at(4, cell)) * input_height / 2;
      detections.push_back({{cx - half_w, cy - half_h, cx + half_w, cy + half_h},
                            score,
                            static_cast<int>(best - 5)});
    }
  }
  return detections;
}

}  // namespace detect
