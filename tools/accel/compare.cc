#include "compare.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "tensor_util.h"

namespace accel::cli {
namespace {

// Integers compared exactly through their bits; bools by truth value.
bool ExactEqual(const Tensor& got, const Tensor& want, int64_t i) {
  if (got.dtype() == DType::kBool) return ElementAsDouble(got, i) == ElementAsDouble(want, i);
  size_t size = DTypeSize(got.dtype());
  auto g = static_cast<const std::byte*>(got.data()) + i * size;
  auto w = static_cast<const std::byte*>(want.data()) + i * size;
  return std::memcmp(g, w, size) == 0;
}

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

}  // namespace

Result<Tolerance> ParseToleranceJson(const std::string& text, Tolerance tol) {
  // A flat JSON object of numbers is all accel_tolerance.json may hold.
  size_t pos = 0;
  auto skip = [&] {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  };
  auto error = [&](const std::string& what) {
    return InvalidArgument("accel_tolerance.json: " + what + " at offset " + std::to_string(pos));
  };
  skip();
  if (pos >= text.size() || text[pos++] != '{') return error("expected '{'");
  skip();
  if (pos < text.size() && text[pos] == '}') return tol;
  while (true) {
    skip();
    if (pos >= text.size() || text[pos] != '"') return error("expected a key");
    size_t end = text.find('"', pos + 1);
    if (end == std::string::npos) return error("unterminated key");
    std::string key = text.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    skip();
    if (pos >= text.size() || text[pos++] != ':') return error("expected ':'");
    skip();
    double v = 0;
    auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), v);
    if (ec != std::errc() || !std::isfinite(v) || v < 0) {
      return error("expected a non-negative number for '" + key + "'");
    }
    pos = static_cast<size_t>(ptr - text.data());
    if (key == "rtol") {
      tol.rtol = v;
    } else if (key == "atol") {
      tol.atol = v;
    } else if (key == "rel_l2") {
      tol.rel_l2 = v;
    } else {
      return error("unknown key '" + key + "' (expected rtol, atol, rel_l2)");
    }
    skip();
    if (pos < text.size() && text[pos] == ',') {
      ++pos;
      continue;
    }
    if (pos < text.size() && text[pos] == '}') break;
    return error("expected ',' or '}'");
  }
  ++pos;
  skip();
  if (pos != text.size()) return error("trailing characters");
  return tol;
}

std::string CompareTensors(const Tensor& got, const Tensor& want, const Tolerance& tol) {
  if (got.dtype() != want.dtype()) {
    return std::string("dtype ") + DTypeName(got.dtype()) + ", want " + DTypeName(want.dtype());
  }
  if (got.shape() != want.shape()) {
    return "shape " + ShapeToString(got.shape()) + ", want " + ShapeToString(want.shape());
  }
  const int64_t n = got.element_count();
  const bool exact = !IsFloating(got.dtype());
  int64_t bad = 0;
  int64_t worst = -1;  // index of the largest absolute error among mismatches
  double worst_err = -1;
  double diff_sq = 0, want_sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    double g = ElementAsDouble(got, i);
    double w = ElementAsDouble(want, i);
    bool ok;
    double err;
    if (exact) {
      ok = ExactEqual(got, want, i);
      err = std::fabs(g - w);
    } else if (std::isnan(g) || std::isnan(w)) {
      ok = std::isnan(g) && std::isnan(w);
      err = ok ? 0 : std::numeric_limits<double>::infinity();
    } else if (g == w) {  // also equal infinities
      ok = true;
      err = 0;
    } else {
      err = std::fabs(g - w);
      ok = !std::isinf(err) && err <= tol.atol + tol.rtol * std::fabs(w);
    }
    if (tol.rel_l2 && !exact) {
      if (std::isnan(g) != std::isnan(w) || std::isinf(err)) diff_sq = INFINITY;
      if (!std::isnan(err) && !std::isinf(err)) diff_sq += (g - w) * (g - w);
      if (std::isfinite(w)) want_sq += w * w;
      ok = true;  // judged on the norm below; still track the worst element for the report
    }
    if (!ok) ++bad;
    if ((!ok || (tol.rel_l2 && !exact)) && err > worst_err) {
      worst_err = err;
      worst = i;
    }
  }
  auto where = [&] {
    return "max abs err " + FormatDouble(worst_err) + " at index " +
           FormatIndex(got.shape(), worst) + " (got " + FormatElement(got, worst) + ", want " +
           FormatElement(want, worst) + ")";
  };
  if (tol.rel_l2 && !exact) {
    double ratio = want_sq > 0 ? std::sqrt(diff_sq / want_sq) : std::sqrt(diff_sq);
    if (ratio <= *tol.rel_l2) return "";
    return "relative L2 error " + FormatDouble(ratio) + " > " + FormatDouble(*tol.rel_l2) +
           (worst >= 0 ? "; " + where() : "");
  }
  if (bad == 0) return "";
  return std::to_string(bad) + " of " + std::to_string(n) + " values differ; " + where();
}

}  // namespace accel::cli
