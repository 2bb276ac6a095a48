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
  // Grouped by class, best first within a class: each candidate is compared only with the
  // kept boxes of its own class.
  std::stable_sort(detections.begin(), detections.end(),
                   [](const Detection& a, const Detection& b) {
                     return a.class_id != b.class_id ? a.class_id < b.class_id : a.score > b.score;
                   });
  std::vector<Detection> kept;
  size_t class_begin = 0;  // index in `kept` of the current class's first kept detection
  for (size_t i = 0; i < detections.size(); ++i) {
    const Detection& candidate = detections[i];
    if (i > 0 && candidate.class_id != detections[i - 1].class_id) class_begin = kept.size();
    const bool suppressed =
        std::any_of(kept.begin() + class_begin, kept.end(),
                    [&](const Detection& k) { return IoU(k.box, candidate.box) > iou_threshold; });
    if (!suppressed) kept.push_back(candidate);
  }
  std::stable_sort(kept.begin(), kept.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  return kept;
}

}  // namespace detect
