// Zero padding folded into the AveragePool after it. Run by the layout pass before it plans:
// Pad is a plain-only op, so between blocked ops it costs two reorders besides its own copy.
#pragma once

#include "core/graph.h"
#include "core/optimizer.h"

namespace accel::core {

// Pad (constant zeros, on the two spatial axes of a 4-D value, pads below the pool's window)
// whose only reader is a 2-D AveragePool without pads of its own, dilation or ceil_mode becomes
// that pool's pads with count_include_pad = 1: the padded zeros still count in each average, as
// PyTorch's AvgPool2d(count_include_pad=True) exports it. The Pad is removed through ctx.
void FoldPadIntoAveragePool(Graph& g, PassContext& ctx);

}  // namespace accel::core
