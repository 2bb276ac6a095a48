#include "image.h"

#include <memory>

// The one translation unit that compiles stb's implementations.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

namespace detect {

accel::Result<Image> LoadImage(const std::string& path) {
  int width = 0;
  int height = 0;
  int channels_in_file = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load(path.c_str(), &width, &height, &channels_in_file, 3), stbi_image_free);
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    return accel::IoError("cannot read image '" + path + "': " + (reason ? reason : "unknown"));
  }
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.assign(pixels.get(), pixels.get() + static_cast<size_t>(width) * height * 3);
  return image;
}

accel::Status SavePng(const Image& image, const std::string& path) {
  if (!stbi_write_png(path.c_str(), image.width, image.height, 3, image.rgb.data(),
                      image.width * 3)) {
    return accel::IoError("cannot write PNG '" + path + "'");
  }
  return accel::Status::Ok();
}

}  // namespace detect
