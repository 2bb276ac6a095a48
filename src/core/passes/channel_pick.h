// ShuffleNet's channel shuffle and split as accel.ChannelPick nodes (backends/cpu/
// channel_pick.cc). Run by the layout pass before it plans, so the picks can stay blocked.
#pragma once

#include "core/graph.h"
#include "core/optimizer.h"

namespace accel::core {

// Finds chains Reshape -> ... Transpose ... (Reshape/Transpose only) that start at a static
// 4-D float32 value V and whose results (or the channel Slice/Gather results they feed) are
// 4-D tensors each made of whole H x W planes of V, and replaces each result's producer by
// a ChannelPick of V (or of V's Concat inputs when V is a channel Concat). Which channels each
// result takes is found by running the chain on V's element indices, so any reshape and
// transpose spelling of the shuffle is recognized and nothing else is. Nodes left unused are
// removed through ctx; every pick counts as a rewrite.
void FuseChannelPicks(Graph& g, PassContext& ctx);

}  // namespace accel::core
