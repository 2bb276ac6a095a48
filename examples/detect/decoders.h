// Decoders: raw model outputs -> scored boxes in network-input pixels, before NMS.
// Each checks the output's dtype and shape and returns InvalidArgument if they do not fit.
#pragma once

#include <vector>

#include "accel/tensor.h"
#include "detection.h"

namespace detect {

// YOLOX (decode_in_inference=False export): output [1, N, 5 + C] with rows
// (dx, dy, log w, log h, objectness, C class probabilities), N anchors ordered over the
// stride 8, 16 and 32 grids of the input. One candidate per anchor and class whose
// objectness * class probability exceeds score_threshold (class-aware, like YOLOX's demo).
accel::Result<std::vector<Detection>> DecodeYolox(const accel::Tensor& output, int input_width,
                                                  int input_height, float score_threshold);

// FastestDet: output [1, 5 + C, H, W]; per cell (objectness, x/y offset logits, w/h logits,
// C class probabilities). One candidate per cell: the best class, scored
// objectness^0.6 * class probability^0.4.
accel::Result<std::vector<Detection>> DecodeFastestDet(const accel::Tensor& output, int input_width,
                                                       int input_height, float score_threshold);

// Ultra-Light face detector: scores [1, N, 2] (background, face) and boxes [1, N, 4] already
// decoded to normalized x0 y0 x1 y1. Class 0 = face.
accel::Result<std::vector<Detection>> DecodeUltraface(const accel::Tensor& scores,
                                                      const accel::Tensor& boxes, int input_width,
                                                      int input_height, float score_threshold);

}  // namespace detect
