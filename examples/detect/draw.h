// Annotates an image: box outlines and text labels on a filled background.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "detection.h"
#include "image.h"

namespace detect {

struct Color {
  uint8_t r = 0;
  uint8_t g = 0;
  uint8_t b = 0;
};

// Pixel-aligned rectangle [x0, x1) x [y0, y1); parts outside the image are skipped.
void FillRect(Image& image, int x0, int y0, int x1, int y1, Color color);
void DrawBoxOutline(Image& image, const Box& box, Color color, int thickness);

// Printable ASCII in stb_easy_font's segment font, each font unit drawn as scale x scale
// pixels; (x, y) is the top-left corner. Other characters are drawn as '?'.
void DrawText(Image& image, int x, int y, const std::string& text, Color color, int scale);
int TextWidth(const std::string& text, int scale);
int TextHeight(int scale);

// A distinct, saturated color per class.
Color ClassColor(int class_id);

// Draws every detection's box and its label (labels[i] belongs to detections[i], which are
// sorted by descending score), the label on a filled background just above the box, or inside
// it when there is no room above.
void DrawDetections(Image& image, const std::vector<Detection>& detections,
                    const std::vector<std::string>& labels);

}  // namespace detect
