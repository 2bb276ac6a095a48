// One block of memory for the bytes of a model's initializers.
//
// Why: a model's weights are hundreds of tensors of 0.1-4 MiB; one mapping for all of them
// costs one mmap instead of hundreds of allocations, and its memory is zero-filled by the kernel
// as the copy first touches it. It is 4 KiB pages, not huge pages: see arena.h.
// The tensors share ownership of the block, so it lives as long as any of them.
//
// The cost: a constant the optimizer replaces (a Conv weight with a BatchNorm folded into it)
// no longer frees its bytes. CompactConstantBlock moves the survivors out of the block when
// most of it is dead, so the waste stays bounded.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "core/graph.h"
#include "core/onnx_tensor.h"
#include "memory/arena.h"

namespace accel::core {

class ConstantBlock {
 public:
  // Sized for these raw_data spans (each 64-byte aligned); no block for a small total.
  explicit ConstantBlock(std::span<const std::span<const std::byte>> raw_data);

  // Carves tensors from the block in order while it has room, then uses Tensor::Create.
  TensorAllocator allocator();

  // The block's memory (empty without one), for CompactConstantBlock.
  std::span<const std::byte> memory() const;

 private:
  std::shared_ptr<memory::Arena> block_;
  size_t used_ = 0;
};

// True when `t`'s bytes lie in the graph's constant block: the importer's private, writable copy
// of the initializers, which a pass may rewrite in place when nothing else reads the value.
bool InConstantBlock(const Graph& graph, const Tensor& t);

// Copies every constant that lies in the graph's constant block to its own allocation when
// those live constants fill less than three quarters of it (the block is then freed with its
// dead bytes); clears Graph::constant_block either way.
Status CompactConstantBlock(Graph& graph);

}  // namespace accel::core
