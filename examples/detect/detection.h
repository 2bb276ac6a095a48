// What every decoder produces and every later stage (NMS, drawing, printing) consumes.
#pragma once

namespace detect {

// Corners in pixels, x0 <= x1 and y0 <= y1.
struct Box {
  float x0 = 0;
  float y0 = 0;
  float x1 = 0;
  float y1 = 0;

  float Area() const { return (x1 > x0 && y1 > y0) ? (x1 - x0) * (y1 - y0) : 0.0f; }
};

struct Detection {
  Box box;
  float score = 0;
  int class_id = 0;
};

}  // namespace detect
