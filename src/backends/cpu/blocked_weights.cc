#include "backends/cpu/blocked_weights.h"

#include <cstring>
#include <vector>

namespace accel::cpu {

namespace {

// A blocked layout's offset is a sum of one term per dimension: the outer block index times
// the dimension's stride, plus its position inside each inner block it takes part in. So one
// table per dimension, indexed by the element's coordinate, gives the offset by addition.
std::vector<std::vector<int64_t>> OffsetTables(const dnnl_memory_desc_t& md) {
  const dnnl_blocking_desc_t& blk = md.format_desc.blocking;
  std::vector<std::vector<int64_t>> tables(md.ndims);
  for (int d = 0; d < md.ndims; ++d) {
    int64_t block = 1;  // this dimension's elements per outer block
    for (int k = 0; k < blk.inner_nblks; ++k)
      block *= blk.inner_idxs[k] == d ? blk.inner_blks[k] : 1;
    std::vector<int64_t>& t = tables[d];
    t.resize(md.dims[d]);
    for (int64_t x = 0; x < md.dims[d]; ++x) {
      int64_t inner = 0, below = block;  // `below`: elements of this dim in later inner blocks
      for (int k = 0; k < blk.inner_nblks; ++k) {
        int64_t span = 1;  // elements of the inner blocks after k
        for (int j = k + 1; j < blk.inner_nblks; ++j) span *= blk.inner_blks[j];
        if (blk.inner_idxs[k] != d) continue;
        below /= blk.inner_blks[k];
        inner += (x / below) % blk.inner_blks[k] * span;
      }
      t[x] = x / block * blk.strides[d] + inner;
    }
  }
  return tables;
}

bool DenseRowMajor(const dnnl_memory_desc_t& md) {
  if (md.format_kind != dnnl_blocked || md.format_desc.blocking.inner_nblks != 0) return false;
  int64_t stride = 1;
  for (int d = md.ndims - 1; d >= 0; --d) {
    if (md.padded_dims[d] != md.dims[d] || md.format_desc.blocking.strides[d] != stride) {
      return false;
    }
    stride *= md.dims[d];
  }
  return md.offset0 == 0;
}

}  // namespace

bool PacksBlockedWeights(const dnnl::memory::desc& user, const dnnl::memory::desc& want) {
  const dnnl_memory_desc_t& u = user.data;
  const dnnl_memory_desc_t& w = want.data;
  if (u.data_type != dnnl_f32 || w.data_type != dnnl_f32 || w.format_kind != dnnl_blocked ||
      w.extra.flags != 0 || w.offset0 != 0 || u.ndims != w.ndims || u.ndims < 1 ||
      !DenseRowMajor(u)) {
    return false;
  }
  int64_t count = 1;
  for (int d = 0; d < u.ndims; ++d) {
    if (u.dims[d] != w.dims[d]) return false;
    count *= u.dims[d];
  }
  return count > 0 && count <= kMaxPackedElements;
}

bool PackBlockedWeights(const dnnl::memory::desc& user, const void* plain,
                        const dnnl::memory::desc& want, void* out) {
  if (!PacksBlockedWeights(user, want)) return false;
  const dnnl_memory_desc_t& u = user.data;
  const int64_t count = static_cast<int64_t>(user.get_size() / sizeof(float));
  const std::vector<std::vector<int64_t>> tables = OffsetTables(want.data);
  // The trailing dims (up to kInnerElements of them) get one combined table, so the copy runs
  // over long rows (a 1x1 conv's input channels) rather than rows of 1.
  constexpr int64_t kInnerElements = 8192;
  int split = u.ndims;  // dims [split, ndims) form a row
  int64_t row = 1;
  while (split > 0 && row * u.dims[split - 1] <= kInnerElements) row *= u.dims[--split];
  if (split == u.ndims) row = u.dims[--split];  // one dim alone is larger: it is the row
  // Stepped like an odometer: a division per dim and element cost more than the copy itself.
  std::vector<int64_t> inner(row);
  std::vector<int64_t> at(u.ndims, 0);  // coordinates of element j in dims [split, ndims)
  int64_t offset = 0;
  for (int d = split; d < u.ndims; ++d) offset += tables[d][0];
  for (int64_t j = 0; j < row; ++j) {
    inner[j] = offset;
    for (int d = u.ndims - 1; d >= split; --d) {
      offset -= tables[d][at[d]];
      if (++at[d] < u.dims[d]) {
        offset += tables[d][at[d]];
        break;
      }
      at[d] = 0;
      offset += tables[d][0];
    }
  }
  // Padding (channels up to the block) must be zero; the scatter below skips it.
  std::memset(out, 0, want.get_size());
  const float* src = static_cast<const float*>(plain);
  float* dst = static_cast<float*>(out);
  std::vector<int64_t> index(split, 0);  // coordinates of the current row in dims [0, split)
  for (int64_t start = 0; start < count; start += row) {
    int64_t base = 0;
    for (int d = 0; d < split; ++d) base += tables[d][index[d]];
    for (int64_t x = 0; x < row; ++x) dst[base + inner[x]] = src[start + x];
    for (int d = split - 1; d >= 0 && ++index[d] == u.dims[d]; --d) index[d] = 0;
  }
  return true;
}

}  // namespace accel::cpu
