#include "nms.h"

#include <algorithm>

namespace detect {

float IoU(const Box& a, const Box& b) {
  const Box overlap{std::max(a.x0, b.x0), std::max(a.y0, b.y0), std::min(a.x1, b.x1),
                    std::min(a.y1, b.y1)};
  const float inter = overlap.Area();
  const float uni = a.Area() + b.Area() - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

std::vector<Detection> NonMaxSuppression(std::vector<Detection> detections, float iou_threshold) {
  std::stable_sort(detections.begin(), detections.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::vector<Detection> kept;
  for (const Detection& candidate : detections) {
    const bool suppressed = std::any_of(kept.begin(), kept.end(), [&](const Detection& k) {
      return k.class_id == candidate.class_id && IoU(k.box, candidate.box) > iou_threshold;
    });
    if (!suppressed) kept.push_back(candidate);
  }
  return kept;
}

}  // namespace detect
