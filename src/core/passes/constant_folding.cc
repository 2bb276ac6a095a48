#include "core/optimizer.h"

namespace accel::core {

Status RunConstantFolding(Graph&, PassContext&) { return Status::Ok(); }

}  // namespace accel::core
