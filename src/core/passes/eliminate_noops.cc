#include "core/optimizer.h"

namespace accel::core {

Status RunEliminateNoOps(Graph&, PassContext&) { return Status::Ok(); }

}  // namespace accel::core
