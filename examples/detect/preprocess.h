// Turns an image into the float NCHW tensor a detector expects.
#pragma once

#include <cstdint>
#include <vector>

#include "detection.h"
#include "image.h"

namespace detect {

enum class ChannelOrder { kRgb, kBgr };

struct PreprocessSpec {
  int width = 0;  // network input size
  int height = 0;
  // Keep the aspect ratio: the scaled image sits at the top-left, the rest is pad_value.
  // Otherwise the image is stretched to width x height.
  bool letterbox = false;
  uint8_t pad_value = 114;
  ChannelOrder order = ChannelOrder::kRgb;
  // Each channel value becomes (pixel - mean) * scale.
  float mean = 0.0f;
  float scale = 1.0f;
};

struct ModelInput {
  std::vector<float> chw;  // [3, height, width]
  // Network pixels per image pixel, to map boxes back onto the image.
  float scale_x = 1.0f;
  float scale_y = 1.0f;
};

// Resamples with area averaging (each output pixel averages the input area it covers), the
// filter the models' reference inputs were made with; plain bilinear aliases on downscaling.
ModelInput Preprocess(const Image& image, const PreprocessSpec& spec);

// Maps a box from network pixels back to image pixels, clipped to the image.
Box ToImageBox(const Box& box, const ModelInput& input, int image_width, int image_height);

}  // namespace detect
