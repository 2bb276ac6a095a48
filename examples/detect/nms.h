// Non-maximum suppression: keeps the best box among overlapping boxes of the same class.
#pragma once

#include <vector>

#include "detection.h"

namespace detect {

float IoU(const Box& a, const Box& b);

// Greedy class-wise NMS: in descending score order, keeps a detection unless it overlaps an
// already kept detection of the same class with IoU > iou_threshold. Returns the kept
// detections sorted by descending score.
std::vector<Detection> NonMaxSuppression(std::vector<Detection> detections, float iou_threshold);

}  // namespace detect
