#include "core/layout.h"

namespace accel::core {

const char* LayoutName(Layout layout) { return layout == Layout::kBlocked ? "nChw16c" : "plain"; }

Shape PhysicalShape(Layout layout, std::span<const int64_t> logical) {
  if (layout == Layout::kPlain || logical.size() != 4) return Shape(logical.begin(), logical.end());
  const int64_t blocks = (logical[1] + kChannelBlock - 1) / kChannelBlock;
  return {logical[0], blocks, logical[2], logical[3], kChannelBlock};
}

Shape LogicalShape(Layout layout, std::span<const int64_t> physical, int64_t channels) {
  if (layout == Layout::kPlain || physical.size() != 5) {
    return Shape(physical.begin(), physical.end());
  }
  return {physical[0], channels, physical[2], physical[3]};
}

}  // namespace accel::core
