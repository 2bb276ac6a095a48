// detect: runs an object or face detector on one image with libaccel and writes an annotated PNG.
//
//   detect [--model yolox_nano|fastestdet|ultraface_rfb320|PATH.onnx] [--model-dir DIR]
//          [--image PATH] [--out FILE.png] [--threads N] [--score-threshold S] [--json]

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "coco_names.h"
#include "detector.h"
#include "draw.h"
#include "image.h"
#include "model_zoo.h"

namespace detect {
namespace {

constexpr char kFetchHint[] =
    "Fetch the models and sample images with `make demo` or `python3 scripts/fetch_models.py`, "
    "or point --model-dir (or ACCEL_MODEL_DIR) at a directory that holds them.";

struct Options {
  std::string model = "yolox_nano";
  std::string model_dir;
  std::string image;
  std::string out = "detections.png";
  int threads = 0;
  std::optional<float> score_threshold;
  bool json = false;
};

void PrintUsage(std::FILE* stream) {
  std::fprintf(stream,
               "usage: detect [--model %s|PATH.onnx] [--model-dir DIR] [--image PATH]\n"
               "              [--out FILE.png] [--threads N] [--score-threshold S] [--json]\n"
               "\n"
               "  --model            built-in model name or an .onnx file (default yolox_nano)\n"
               "  --model-dir        default $ACCEL_MODEL_DIR, else "
               "${XDG_CACHE_HOME:-~/.cache}/libaccel/models\n"
               "  --image            default <model dir>/images/dog.jpg (faces_1.jpg for "
               "ultraface)\n"
               "  --out              annotated PNG to write (default detections.png)\n"
               "  --threads          threads per run, 0 = all physical cores (default 0)\n"
               "  --score-threshold  minimum score, 0..1 (default: the model's own)\n"
               "  --json             print the detections as one JSON array on stdout\n",
               ModelSpecNames().c_str());
}

std::string DefaultModelDir() {
  if (const char* dir = std::getenv("ACCEL_MODEL_DIR"); dir && *dir) return dir;
  if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache && *cache) {
    return std::string(cache) + "/libaccel/models";
  }
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.cache/libaccel/models";
}

// Parses the whole of `text` as a number, rejecting trailing junk and non-finite values.
std::optional<double> ParseNumber(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// Returns nullopt after printing the problem; exits 0 for --help.
std::optional<Options> ParseArgs(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      PrintUsage(stdout);
      std::exit(0);
    }
    if (arg == "--json") {
      options.json = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "detect: unknown option or missing value: %s\n", arg.c_str());
      return std::nullopt;
    }
    const std::string value = argv[++i];
    if (arg == "--model") {
      options.model = value;
    } else if (arg == "--model-dir") {
      options.model_dir = value;
    } else if (arg == "--image") {
      options.image = value;
    } else if (arg == "--out") {
      options.out = value;
    } else if (arg == "--threads") {
      const auto n = ParseNumber(value);
      if (!n || *n < 0 || *n > 1024 || *n != std::floor(*n)) {
        std::fprintf(stderr, "detect: --threads wants an integer 0..1024, got '%s'\n",
                     value.c_str());
        return std::nullopt;
      }
      options.threads = static_cast<int>(*n);
    } else if (arg == "--score-threshold") {
      const auto s = ParseNumber(value);
      if (!s || *s < 0 || *s > 1) {
        std::fprintf(stderr, "detect: --score-threshold wants a number 0..1, got '%s'\n",
                     value.c_str());
        return std::nullopt;
      }
      options.score_threshold = static_cast<float>(*s);
    } else {
      std::fprintf(stderr, "detect: unknown option %s\n", arg.c_str());
      return std::nullopt;
    }
  }
  if (options.model_dir.empty()) options.model_dir = DefaultModelDir();
  return options;
}

std::string Label(const ModelSpec& spec, const Detection& d) {
  return spec.architecture == Architecture::kUltraface ? "face" : CocoName(d.class_id);
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void PrintJson(const ModelSpec& spec, const std::vector<Detection>& detections) {
  std::printf("[");
  for (size_t i = 0; i < detections.size(); ++i) {
    const Detection& d = detections[i];
    std::printf(
        "%s\n  {\"label\": %s, \"class_id\": %d, \"score\": %.5f, "
        "\"box\": [%.2f, %.2f, %.2f, %.2f]}",
        i ? "," : "", JsonString(Label(spec, d)).c_str(), d.class_id, d.score, d.box.x0, d.box.y0,
        d.box.x1, d.box.y1);
  }
  std::printf("%s]\n", detections.empty() ? "" : "\n");
}

void PrintTable(const ModelSpec& spec, const std::vector<Detection>& detections) {
  for (const Detection& d : detections) {
    std::printf("%-14s %.3f  box %7.1f %7.1f %7.1f %7.1f\n", Label(spec, d).c_str(), d.score,
                d.box.x0, d.box.y0, d.box.x1, d.box.y1);
  }
}

// Resolves the model, loads it and fits its recipe to its actual input size.
accel::Result<std::pair<accel::Model, ModelSpec>> LoadModel(const Options& options) {
  std::optional<ModelSpec> builtin = FindModelSpec(options.model);
  const bool is_path = !builtin.has_value();
  if (is_path && options.model.find('/') == std::string::npos &&
      !options.model.ends_with(".onnx")) {
    return accel::InvalidArgument("unknown model '" + options.model + "': use one of " +
                                  ModelSpecNames() + " or a path to an .onnx file");
  }
  const std::string path =
      is_path ? options.model : options.model_dir + "/" + builtin->relative_path;
  if (!std::filesystem::is_regular_file(path)) {
    return accel::NotFound("model file '" + path + "' does not exist. " +
                           (is_path ? std::string() : kFetchHint));
  }
  ACCEL_ASSIGN_OR_RETURN(accel::Model model, accel::Model::Load(path));
  ModelSpec spec;
  if (is_path) {
    ACCEL_ASSIGN_OR_RETURN(spec, SpecForModelFile(model, path));
  } else {
    spec = *builtin;
  }
  ACCEL_RETURN_IF_ERROR(AdaptSpecToModel(model, spec));
  return std::pair{std::move(model), std::move(spec)};
}

accel::Status Run(const Options& options) {
  ACCEL_ASSIGN_OR_RETURN(auto loaded, LoadModel(options));
  auto& [model, spec] = loaded;

  const bool default_image = options.image.empty();
  const std::string image_path =
      default_image ? options.model_dir + "/" + spec.default_image : options.image;
  if (!std::filesystem::is_regular_file(image_path)) {
    return accel::NotFound("image '" + image_path + "' does not exist." +
                           (default_image ? std::string(" ") + kFetchHint : std::string()));
  }
  ACCEL_ASSIGN_OR_RETURN(Image image, LoadImage(image_path));

  ACCEL_ASSIGN_OR_RETURN(accel::Session session,
                         accel::Session::Create(model, {.num_threads = options.threads}));
  const float threshold = options.score_threshold.value_or(spec.score_threshold);
  ACCEL_ASSIGN_OR_RETURN(DetectResult result, Detect(session, spec, image, threshold));

  std::vector<std::string> labels;
  for (const Detection& d : result.detections) {
    char score[16];
    std::snprintf(score, sizeof(score), " %.2f", d.score);
    labels.push_back(Label(spec, d) + score);
  }
  DrawDetections(image, result.detections, labels);
  ACCEL_RETURN_IF_ERROR(SavePng(image, options.out));

  if (options.json) {
    PrintJson(spec, result.detections);
  } else {
    PrintTable(spec, result.detections);
  }
  // With --json, stdout carries the JSON alone.
  std::fprintf(options.json ? stderr : stdout,
               "%s: %zu detection%s in %s (%dx%d), inference %.1f ms on %d thread%s; wrote %s\n",
               spec.name.c_str(), result.detections.size(),
               result.detections.size() == 1 ? "" : "s", image_path.c_str(), image.width,
               image.height, result.inference_ms, session.num_threads(),
               session.num_threads() == 1 ? "" : "s", options.out.c_str());
  return accel::Status::Ok();
}

}  // namespace
}  // namespace detect

int main(int argc, char** argv) {
  const std::optional<detect::Options> options = detect::ParseArgs(argc, argv);
  if (!options) {
    detect::PrintUsage(stderr);
    return 2;
  }
  const accel::Status status = detect::Run(*options);
  if (!status.ok()) {
    std::fprintf(stderr, "detect: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
