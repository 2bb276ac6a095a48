#include "preprocess.h"

#include <algorithm>
#include <cmath>

namespace detect {
namespace {

struct Tap {
  int index;
  float weight;
};

// For each of `out_size` output pixels, the input pixels it covers and their weights.
std::vector<std::vector<Tap>> AreaTaps(int in_size, int out_size) {
  std::vector<std::vector<Tap>> taps(out_size);
  const double step = static_cast<double>(in_size) / out_size;
  for (int o = 0; o < out_size; ++o) {
    const double begin = o * step;
    const double end = (o + 1) * step;
    const int first = static_cast<int>(std::floor(begin));
    const int last = std::min(static_cast<int>(std::ceil(end)), in_size);
    double total = 0;
    for (int i = first; i < last; ++i) {
      const double covered = std::min(end, i + 1.0) - std::max(begin, static_cast<double>(i));
      if (covered <= 0) continue;
      taps[o].push_back({i, static_cast<float>(covered)});
      total += covered;
    }
    for (Tap& tap : taps[o]) tap.weight = static_cast<float>(tap.weight / total);
  }
  return taps;
}

// Area-resizes `image` to out_w x out_h, returning interleaved RGB floats.
std::vector<float> ResizeArea(const Image& image, int out_w, int out_h) {
  const auto x_taps = AreaTaps(image.width, out_w);
  const auto y_taps = AreaTaps(image.height, out_h);
  // Horizontal pass first: image.height rows of out_w pixels.
  std::vector<float> rows(static_cast<size_t>(image.height) * out_w * 3, 0.0f);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < out_w; ++x) {
      float* dst = &rows[(static_cast<size_t>(y) * out_w + x) * 3];
      for (const Tap& tap : x_taps[x]) {
        const uint8_t* src = image.Pixel(tap.index, y);
        for (int c = 0; c < 3; ++c) dst[c] += tap.weight * src[c];
      }
    }
  }
  std::vector<float> out(static_cast<size_t>(out_h) * out_w * 3, 0.0f);
  for (int y = 0; y < out_h; ++y) {
    for (const Tap& tap : y_taps[y]) {
      const float* src = &rows[static_cast<size_t>(tap.index) * out_w * 3];
      float* dst = &out[static_cast<size_t>(y) * out_w * 3];
      for (int i = 0; i < out_w * 3; ++i) dst[i] += tap.weight * src[i];
    }
  }
  return out;
}

}  // namespace

ModelInput Preprocess(const Image& image, const PreprocessSpec& spec) {
  ModelInput input;
  int resized_w = spec.width;
  int resized_h = spec.height;
  if (spec.letterbox) {
    const float ratio = std::min(static_cast<float>(spec.width) / image.width,
                                 static_cast<float>(spec.height) / image.height);
    resized_w = std::clamp(static_cast<int>(image.width * ratio), 1, spec.width);
    resized_h = std::clamp(static_cast<int>(image.height * ratio), 1, spec.height);
    input.scale_x = input.scale_y = ratio;
  } else {
    input.scale_x = static_cast<float>(spec.width) / image.width;
    input.scale_y = static_cast<float>(spec.height) / image.height;
  }
  const std::vector<float> resized = ResizeArea(image, resized_w, resized_h);

  const size_t plane = static_cast<size_t>(spec.width) * spec.height;
  input.chw.assign(plane * 3, (spec.pad_value - spec.mean) * spec.scale);
  for (int c = 0; c < 3; ++c) {
    const int src_c = spec.order == ChannelOrder::kBgr ? 2 - c : c;
    float* dst = &input.chw[c * plane];
    for (int y = 0; y < resized_h; ++y) {
      for (int x = 0; x < resized_w; ++x) {
        // Rounded like the 8-bit resized images the models' reference pipelines feed.
        const float value =
            std::round(resized[(static_cast<size_t>(y) * resized_w + x) * 3 + src_c]);
        dst[static_cast<size_t>(y) * spec.width + x] = (value - spec.mean) * spec.scale;
      }
    }
  }
  return input;
}

Box ToImageBox(const Box& box, const ModelInput& input, int image_width, int image_height) {
  // NaN from a broken model output becomes 0 so that printing and JSON stay well-formed.
  const auto map = [](float v, float scale, int limit) {
    const float mapped = v / scale;
    return std::isnan(mapped) ? 0.0f : std::clamp(mapped, 0.0f, static_cast<float>(limit));
  };
  return {map(box.x0, input.scale_x, image_width), map(box.y0, input.scale_y, image_height),
          map(box.x1, input.scale_x, image_width), map(box.y1, input.scale_y, image_height)};
}

}  // namespace detect
