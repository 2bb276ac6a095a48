#include <cmath>
#include <string>

#include "decoders.h"

namespace detect {

accel::Result<std::vector<Detection>> DecodeYolox(const accel::Tensor& output, int input_width,
                                                  int input_height, float score_threshold) {
  const accel::Shape& shape = output.shape();
  if (output.dtype() != accel::DType::kFloat32 || shape.size() != 3 || shape[0] != 1 ||
      shape[2] <= 5) {
    return accel::InvalidArgument("YOLOX output must be float32 [1, N, 5 + classes], got " +
                                  accel::ShapeToString(shape));
  }
  constexpr int kStrides[] = {8, 16, 32};
  int64_t anchors = 0;
  for (int stride : kStrides) {
    anchors += static_cast<int64_t>(input_width / stride) * (input_height / stride);
  }
  if (shape[1] != anchors) {
    return accel::InvalidArgument("YOLOX output has " + std::to_string(shape[1]) + " anchors; a " +
                                  std::to_string(input_width) + "x" + std::to_string(input_height) +
                                  " input has " + std::to_string(anchors));
  }
  const int64_t row_size = shape[2];
  const float* row = output.data_as<float>();
  std::vector<Detection> detections;
  for (int stride : kStrides) {
    const int grid_w = input_width / stride;
    const int grid_h = input_height / stride;
    for (int gy = 0; gy < grid_h; ++gy) {
      for (int gx = 0; gx < grid_w; ++gx, row += row_size) {
        const float objectness = row[4];
        if (objectness <= score_threshold) continue;  // class probabilities are <= 1
        const float cx = (row[0] + gx) * stride;
        const float cy = (row[1] + gy) * stride;
        const float half_w = std::exp(row[2]) * stride / 2;
        const float half_h = std::exp(row[3]) * stride / 2;
        const Box box{cx - half_w, cy - half_h, cx + half_w, cy + half_h};
        for (int64_t c = 5; c < row_size; ++c) {
          const float score = objectness * row[c];
          if (score > score_threshold) {
            detections.push_back({box, score, static_cast<int>(c - 5)});
          }
        }
      }
    }
  }
  return detections;
}

}  // namespace detect
