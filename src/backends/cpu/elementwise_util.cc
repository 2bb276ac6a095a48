#include "backends/cpu/elementwise_util.h"

namespace accel::cpu {

Result<double> ReadScalarAsDouble(const Tensor& t) {
  if (t.element_count() != 1) {
    return InvalidArgument("expected a scalar, got shape " + ShapeToString(t.shape()));
  }
  double v = 0;
  bool found = VisitDType(TypeList<float, double, int8_t, uint8_t, int16_t, uint16_t, int32_t,
                                   uint32_t, int64_t, uint64_t, bool>{},
                          t.dtype(), [&](auto tag) {
                            using T = typename decltype(tag)::type;
                            v = static_cast<double>(*t.data_as<T>());
                          });
  if (!found) return UnsupportedDType(t.dtype());
  return v;
}

}  // namespace accel::cpu
