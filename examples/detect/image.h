// An 8-bit RGB image in memory, and PNG/JPEG file I/O through stb.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "accel/status.h"

namespace detect {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel

  uint8_t* Pixel(int x, int y) { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
  const uint8_t* Pixel(int x, int y) const {
    return &rgb[(static_cast<size_t>(y) * width + x) * 3];
  }
};

// Any format stb_image reads (JPEG, PNG, BMP, ...), converted to RGB.
accel::Result<Image> LoadImage(const std::string& path);
accel::Status SavePng(const Image& image, const std::string& path);

}  // namespace detect
