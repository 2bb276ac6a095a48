// NonMaxSuppression: greedy per (batch, class) selection by score, suppressing boxes whose IoU
// with an already selected box exceeds the threshold. Ties in score go to the lower box index.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

// A box as (y1, x1, y2, x2) with y1 <= y2 and x1 <= x2.
using Box = std::array<float, 4>;

Box ToCorners(const float* b, bool center_point) {
  if (center_point) {  // [x_center, y_center, width, height]
    float hw = b[2] / 2, hh = b[3] / 2;
    return {b[1] - hh, b[0] - hw, b[1] + hh, b[0] + hw};
  }
  return {std::min(b[0], b[2]), std::min(b[1], b[3]), std::max(b[0], b[2]), std::max(b[1], b[3])};
}

float Iou(const Box& a, const Box& b) {
  float area_a = (a[2] - a[0]) * (a[3] - a[1]);
  float area_b = (b[2] - b[0]) * (b[3] - b[1]);
  if (area_a <= 0 || area_b <= 0) return 0.0f;
  float ih = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  float iw = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  if (ih <= 0 || iw <= 0) return 0.0f;
  float inter = ih * iw;
  return inter / (area_a + area_b - inter);
}

Status InferNms(core::InferContext& ctx) {
  ACCEL_ASSIGN_OR_RETURN(int64_t center, ctx.attrs().GetInt("center_point_box", 0));
  if (center != 0 && center != 1) return InvalidModel("center_point_box must be 0 or 1");
  ctx.set_output(0, DType::kInt64, {-1, 3});
  return Status::Ok();
}

Result<double> OptionalScalar(const core::KernelContext& ctx, size_t i, double fallback) {
  if (!ctx.has_input(i) || ctx.input(i).element_count() == 0) return fallback;
  if (ctx.input(i).element_count() != 1) {
    return InvalidModel("input " + std::to_string(i) + " must be a scalar");
  }
  return dm::ScalarAsDouble(ctx.input(i));
}

Status ComputeNms(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& boxes = ctx.input(0);
  const Tensor& scores = ctx.input(1);
  ACCEL_ASSIGN_OR_RETURN(int64_t center, attrs.GetInt("center_point_box", 0));
  if (boxes.dtype() != DType::kFloat32 || scores.dtype() != DType::kFloat32) {
    return Unsupported("NonMaxSuppression supports float32 boxes and scores");
  }
  if (boxes.rank() != 3 || boxes.shape()[2] != 4 || scores.rank() != 3 ||
      scores.shape()[0] != boxes.shape()[0] || scores.shape()[2] != boxes.shape()[1]) {
    return InvalidModel("boxes " + ShapeToString(boxes.shape()) + " and scores " +
                        ShapeToString(scores.shape()) +
                        " must be [batch, boxes, 4] and [batch, classes, boxes]");
  }
  ACCEL_ASSIGN_OR_RETURN(double max_out_d, OptionalScalar(ctx, 2, 0));
  ACCEL_ASSIGN_OR_RETURN(double iou_threshold, OptionalScalar(ctx, 3, 0));
  bool has_score_threshold = ctx.has_input(4) && ctx.input(4).element_count() > 0;
  ACCEL_ASSIGN_OR_RETURN(double score_threshold, OptionalScalar(ctx, 4, 0));
  int64_t batches = boxes.shape()[0], n = boxes.shape()[1], classes = scores.shape()[1];
  int64_t max_out = max_out_d <= 0 ? 0 : static_cast<int64_t>(std::min<double>(max_out_d, n));
  const float* box_data = boxes.data_as<float>();
  const float* score_data = scores.data_as<float>();

  std::vector<std::array<int64_t, 3>> selected;
  std::vector<Box> corners(static_cast<size_t>(n));
  std::vector<int64_t> order;
  std::vector<int64_t> kept;
  for (int64_t b = 0; b < batches && max_out > 0; ++b) {
    for (int64_t i = 0; i < n; ++i) {
      corners[i] = ToCorners(box_data + (b * n + i) * 4, center == 1);
    }
    for (int64_t c = 0; c < classes; ++c) {
      const float* s = score_data + (b * classes + c) * n;
      order.clear();
      for (int64_t i = 0; i < n; ++i) {
        if (!has_score_threshold || s[i] > score_threshold) order.push_back(i);
      }
      std::stable_sort(order.begin(), order.end(),
                       [s](int64_t x, int64_t y) { return s[x] > s[y]; });
      kept.clear();
      for (int64_t i : order) {
        if (static_cast<int64_t>(kept.size()) >= max_out) break;
        bool suppressed = false;
        for (int64_t k : kept) {
          if (Iou(corners[i], corners[k]) > iou_threshold) {
            suppressed = true;
            break;
          }
        }
        if (suppressed) continue;
        kept.push_back(i);
        selected.push_back({b, c, i});
      }
    }
  }
  int64_t count = static_cast<int64_t>(selected.size());
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, {count, 3}));
  int64_t* o = out->data_as<int64_t>();
  for (int64_t i = 0; i < count; ++i) std::copy(selected[i].begin(), selected[i].end(), o + 3 * i);
  return Status::Ok();
}

constexpr core::CreateKernelFn CreateNms = dm::CreateFunctionKernel<ComputeNms>;

}  // namespace

const core::OpDef& NonMaxSuppressionOpDef() {
  static const core::OpDef def{"NonMaxSuppression", "", {10, 11}, 10, InferNms, CreateNms};
  return def;
}

}  // namespace accel::cpu
