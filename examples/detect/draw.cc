#include "draw.h"

#include <stb_easy_font.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace detect {
namespace {

// stb_easy_font indexes its tables with (c - 32): anything else must not reach it.
std::vector<char> PrintableCopy(const std::string& text) {
  std::vector<char> out;
  for (char c : text) out.push_back(c >= 32 && c <= 126 ? c : '?');
  out.push_back('\0');
  return out;
}

// Pixel coordinate of a float box edge. NaN and huge values end up far outside any image, but
// small enough that sums and differences of two coordinates cannot overflow an int.
int ToPixel(float v) {
  constexpr float kFar = 1e8f;
  if (std::isnan(v)) return -static_cast<int>(kFar);
  return static_cast<int>(std::lround(std::clamp(v, -kFar, kFar)));
}

}  // namespace

void FillRect(Image& image, int x0, int y0, int x1, int y1, Color color) {
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  x1 = std::min(x1, image.width);
  y1 = std::min(y1, image.height);
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      uint8_t* p = image.Pixel(x, y);
      p[0] = color.r;
      p[1] = color.g;
      p[2] = color.b;
    }
  }
}

void DrawBoxOutline(Image& image, const Box& box, Color color, int thickness) {
  const int x0 = ToPixel(box.x0);
  const int y0 = ToPixel(box.y0);
  const int x1 = ToPixel(box.x1);
  const int y1 = ToPixel(box.y1);
  FillRect(image, x0, y0, x1, y0 + thickness, color);  // top
  FillRect(image, x0, y1 - thickness, x1, y1, color);  // bottom
  FillRect(image, x0, y0, x0 + thickness, y1, color);  // left
  FillRect(image, x1 - thickness, y0, x1, y1, color);  // right
}

void DrawText(Image& image, int x, int y, const std::string& text, Color color, int scale) {
  std::vector<char> chars = PrintableCopy(text);
  // stb_easy_font emits 4 vertices of 16 bytes per quad, about 270 bytes per character.
  std::vector<char> vertices(chars.size() * 400 + 64);
  const int quads = stb_easy_font_print(0, 0, chars.data(), nullptr, vertices.data(),
                                        static_cast<int>(vertices.size()));
  for (int q = 0; q < quads; ++q) {
    // Quads are axis-aligned: vertex 0 is the top-left corner, vertex 2 the bottom-right one.
    float top_left[2];
    float bottom_right[2];
    std::copy_n(reinterpret_cast<const float*>(&vertices[q * 64]), 2, top_left);
    std::copy_n(reinterpret_cast<const float*>(&vertices[q * 64 + 32]), 2, bottom_right);
    FillRect(image, x + static_cast<int>(top_left[0] * scale),
             y + static_cast<int>(top_left[1] * scale),
             x + static_cast<int>(bottom_right[0] * scale),
             y + static_cast<int>(bottom_right[1] * scale), color);
  }
}

int TextWidth(const std::string& text, int scale) {
  std::vector<char> chars = PrintableCopy(text);
  return stb_easy_font_width(chars.data()) * scale;
}

// Capitals span font rows 0..7 and descenders reach row 9.
int TextHeight(int scale) { return 9 * scale; }

Color ClassColor(int class_id) {
  static constexpr Color kPalette[] = {
      {230, 25, 75},   {60, 180, 75},   {255, 225, 25},  {0, 130, 200},   {245, 130, 48},
      {145, 30, 180},  {70, 240, 240},  {240, 50, 230},  {210, 245, 60},  {250, 190, 212},
      {0, 128, 128},   {220, 190, 255}, {170, 110, 40},  {255, 250, 200}, {128, 0, 0},
      {170, 255, 195}, {128, 128, 0},   {255, 215, 180}, {0, 0, 128},     {128, 128, 128},
  };
  constexpr int kSize = sizeof(kPalette) / sizeof(kPalette[0]);
  return kPalette[((class_id % kSize) + kSize) % kSize];
}

void DrawDetections(Image& image, const std::vector<Detection>& detections,
                    const std::vector<std::string>& labels) {
  // Lines and text grow with the image so they stay readable on large photos.
  const int image_scale =
      std::max(1, static_cast<int>(std::lround(std::min(image.width, image.height) / 300.0)));
  const int thickness = std::max(2, image_scale);
  for (const Detection& d : detections) {
    DrawBoxOutline(image, d.box, ClassColor(d.class_id), thickness);
  }
  // Labels after all boxes so no line crosses a label, the best-scored label drawn last (on
  // top) where labels of crowded small boxes overlap.
  for (size_t n = std::min(labels.size(), detections.size()); n-- > 0;) {
    const Detection& d = detections[n];
    // Small boxes (faces in a crowd) get small text so labels hide fewer neighbours.
    const int box_h = ToPixel(d.box.y1) - ToPixel(d.box.y0);
    const int scale = std::clamp(box_h / 40, 1, image_scale);
    const int pad = scale;
    const int label_w = TextWidth(labels[n], scale) + 2 * pad;
    const int label_h = TextHeight(scale) + 2 * pad;
    const int box_x = ToPixel(d.box.x0);
    const int box_y = ToPixel(d.box.y0);
    const int x = std::clamp(box_x, 0, std::max(0, image.width - label_w));
    const int y = box_y >= label_h ? box_y - label_h : std::max(box_y, 0);
    const Color color = ClassColor(d.class_id);
    FillRect(image, x, y, x + label_w, y + label_h, color);
    // Dark text on light colors, white text on dark ones.
    const int luma = (299 * color.r + 587 * color.g + 114 * color.b) / 1000;
    const Color text_color = luma > 140 ? Color{0, 0, 0} : Color{255, 255, 255};
    DrawText(image, x + pad, y + pad, labels[n], text_color, scale);
  }
}

}  // namespace detect
