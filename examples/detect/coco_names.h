// Class names of the COCO-80 detection label set (YOLOX, FastestDet).
#pragma once

namespace detect {

inline constexpr int kNumCocoClasses = 80;

// "person", "bicycle", ...; "unknown" outside 0..79.
const char* CocoName(int class_id);

}  // namespace detect
