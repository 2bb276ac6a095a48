#include "args.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace accel::cli {

std::string ParsedArgs::Get(const std::string& flag, const std::string& fallback) const {
  auto it = values.find(flag);
  return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

const std::vector<std::string>& ParsedArgs::All(const std::string& flag) const {
  static const std::vector<std::string> kNone;
  auto it = values.find(flag);
  return it == values.end() ? kNone : it->second;
}

Result<ParsedArgs> ParseArgs(std::span<const std::string> args, std::span<const FlagSpec> specs) {
  ParsedArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      parsed.values["help"].push_back("");
      continue;
    }
    if (arg.size() < 2 || arg.compare(0, 2, "--") != 0 || arg == "--") {
      if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
        return InvalidArgument("unknown option '" + arg + "'");
      }
      parsed.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (!spec) return InvalidArgument("unknown flag '--" + name + "'");
    if (!spec->repeatable && parsed.Has(name)) {
      return InvalidArgument("flag '--" + name + "' given more than once");
    }
    if (!spec->takes_value) {
      if (value) return InvalidArgument("flag '--" + name + "' takes no value");
      parsed.values[name].push_back("");
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) return InvalidArgument("flag '--" + name + "' needs a value");
      value = args[++i];
    }
    parsed.values[name].push_back(*value);
  }
  return parsed;
}

Result<int64_t> ParseInt(const std::string& flag, const std::string& text, int64_t min,
                         int64_t max) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return InvalidArgument("--" + flag + ": '" + text + "' is not an integer");
  }
  if (v < min || v > max) {
    return InvalidArgument("--" + flag + ": " + text + " is out of range [" + std::to_string(min) +
                           ", " + std::to_string(max) + "]");
  }
  return v;
}

Result<double> ParseNonNegative(const std::string& flag, const std::string& text) {
  // strtod accepts locale-independent forms like "1e-5" that from_chars<double> also accepts,
  // but from_chars is not locale-dependent, so use it.
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) ||
      v < 0) {
    return InvalidArgument("--" + flag + ": '" + text + "' is not a non-negative number");
  }
  return v;
}

Result<int64_t> IntFlag(const ParsedArgs& args, const std::string& flag, int64_t fallback,
                        int64_t min, int64_t max) {
  if (!args.Has(flag)) return fallback;
  return ParseInt(flag, args.Get(flag), min, max);
}

Result<std::pair<std::string, std::string>> SplitAssignment(const std::string& flag,
                                                            const std::string& text) {
  size_t eq = text.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    return InvalidArgument("--" + flag + ": expected NAME=VALUE, got '" + text + "'");
  }
  return std::pair(text.substr(0, eq), text.substr(eq + 1));
}

Result<LoadOptions> LoadOptionsFromFlags(const ParsedArgs& args) {
  LoadOptions options;
  ACCEL_ASSIGN_OR_RETURN(int64_t level,
                         IntFlag(args, "opt-level", options.optimization_level, 0, 2));
  options.optimization_level = static_cast<int>(level);
  if (args.Has("disable-pass")) options.disabled_passes = args.All("disable-pass");
  // Only `run`, `bench`, `profile` and `verify` declare --precision.
  if (args.Has("precision")) {
    const std::string precision = args.Get("precision");
    if (precision == "bf16") {
      options.precision = Precision::kBFloat16;
    } else if (precision != "fp32") {
      return InvalidArgument("--precision: expected fp32 or bf16, got '" + precision + "'");
    }
  }
  // Only `run` and `bench` declare --weight-cache; other commands never see it.
  if (args.Has("weight-cache")) options.weight_cache_path = args.Get("weight-cache");
  return options;
}

Result<std::vector<int64_t>> ParseShape(const std::string& text) {
  std::vector<int64_t> dims;
  if (text.empty() || text == "scalar") return dims;
  size_t start = 0;
  while (start <= text.size()) {
    size_t x = text.find('x', start);
    std::string part = text.substr(start, x == std::string::npos ? std::string::npos : x - start);
    Result<int64_t> d = ParseInt("shape", part, 0, std::numeric_limits<int32_t>::max());
    if (!d.ok()) {
      return InvalidArgument("'" + text + "' is not a shape like 1x3x224x224 (dims 0.." +
                             std::to_string(std::numeric_limits<int32_t>::max()) + ")");
    }
    dims.push_back(*d);
    if (x == std::string::npos) break;
    start = x + 1;
  }
  return dims;
}

}  // namespace accel::cli
