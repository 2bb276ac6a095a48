#include "backends/cpu/winograd_weights.h"

#include <cstdint>

namespace accel::cpu {

namespace {

constexpr int kAlpha = 4;  // tile size of F(2x2, 3x3): 2 outputs + 3 taps - 1
constexpr int kTaps = 3;
constexpr int kMaxBlock = 64;

// The weight transform of F(2x2, 3x3): U = G g G^T for every 3x3 kernel g.
constexpr float kG[kAlpha][kTaps] = {
    {1.0f, 0.0f, 0.0f}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0.0f, 0.0f, 1.0f}};

// Where the run of oc_block output channels of one (tile element u, input channel) lands. Both
// 2x3 float layouts keep output channels innermost:
//   aaOio:   [u][oc / ocb][ic][ocb]
//   aaOBiOo: [u][oc / (ocb * oc2)][ic][oc2][ocb]
struct WinoLayout {
  dnnl_wino_desc_t d;

  int64_t RunOffset(int u, int ic, int ob) const {
    if (d.wino_format == dnnl_wino_wei_aaOio) {
      const int64_t nb_oc = d.oc / d.oc_block;
      return ((u * nb_oc + ob) * d.ic + ic) * d.oc_block;
    }
    const int64_t chunks = d.oc / (d.oc_block * d.oc2_block);
    const int64_t chunk = ob / d.oc2_block;
    const int64_t in_chunk = ob % d.oc2_block;
    return (((u * chunks + chunk) * d.ic + ic) * d.oc2_block + in_chunk) * d.oc_block;
  }
};

// One input channel of one output-channel block. Channels past the real counts (the layout pads
// both to its blocks) are written as zeros. Cloned per ISA so the loops over the block vectorize.
__attribute__((target_clones("avx512f", "avx2", "default"))) void TransformBlock(
    const float* w, int oc_count, int ic_count, const WinoLayout& layout, int ob, int ic,
    float* out) {
  const int block = layout.d.oc_block;
  float g[kTaps * kTaps][kMaxBlock];
  for (int o = 0; o < block; ++o) {
    const int oc = ob * block + o;
    const bool real = oc < oc_count && ic < ic_count;
    const float* src = w + (static_cast<int64_t>(oc) * ic_count + ic) * kTaps * kTaps;
    for (int k = 0; k < kTaps * kTaps; ++k) g[k][o] = real ? src[k] : 0.0f;
  }
  // Rows first (g G^T), then columns (G (g G^T)).
  float t[kTaps][kAlpha][kMaxBlock];
  for (int kh = 0; kh < kTaps; ++kh) {
    for (int j = 0; j < kAlpha; ++j) {
      for (int o = 0; o < block; ++o) {
        t[kh][j][o] = g[kh * kTaps][o] * kG[j][0] + g[kh * kTaps + 1][o] * kG[j][1] +
                      g[kh * kTaps + 2][o] * kG[j][2];
      }
    }
  }
  for (int i = 0; i < kAlpha; ++i) {
    for (int j = 0; j < kAlpha; ++j) {
      float* dst = out + layout.RunOffset(i * kAlpha + j, ic, ob);
      for (int o = 0; o < block; ++o) {
        dst[o] = kG[i][0] * t[0][j][o] + kG[i][1] * t[1][j][o] + kG[i][2] * t[2][j][o];
      }
    }
  }
}

}  // namespace

bool PackWinogradWeights(const dnnl::memory::desc& user, const void* oihw,
                         const dnnl::memory::desc& want, void* out) {
  if (want.data.format_kind != dnnl_format_kind_wino) return false;
  const dnnl_wino_desc_t& d = want.data.format_desc.wino_desc;
  const bool float_2x3 =
      d.wino_format == dnnl_wino_wei_aaOio || d.wino_format == dnnl_wino_wei_aaOBiOo;
  if (!float_2x3 || d.r != kTaps || d.alpha != kAlpha || d.adj_scale != 1.0f) return false;
  if (d.oc_block <= 0 || d.oc_block > kMaxBlock || d.oc % d.oc_block != 0) return false;
  if (d.wino_format == dnnl_wino_wei_aaOBiOo &&
      (d.oc2_block <= 0 || (d.oc / d.oc_block) % d.oc2_block != 0)) {
    return false;
  }
  if (want.data.data_type != dnnl_f32 || user.data.ndims != 4) return false;
  const dnnl::memory::dims dims = user.dims();
  const dnnl::memory::desc plain(dims, dnnl::memory::data_type::f32,
                                 dnnl::memory::format_tag::oihw);
  if (user != plain || dims[2] != kTaps || dims[3] != kTaps) return false;
  const int oc_count = static_cast<int>(dims[0]);
  const int ic_count = static_cast<int>(dims[1]);
  if (oc_count > d.oc || ic_count > d.ic) return false;
  if (want.get_size() < static_cast<size_t>(kAlpha * kAlpha) * d.ic * d.oc * sizeof(float)) {
    return false;
  }

  const WinoLayout layout{d};
  const float* w = static_cast<const float*>(oihw);
  float* dst = static_cast<float*>(out);
  const int nb_oc = d.oc / d.oc_block;
  const int ic_total = d.ic;
#pragma omp parallel for collapse(2) schedule(static)
  for (int ob = 0; ob < nb_oc; ++ob) {
    for (int ic = 0; ic < ic_total; ++ic) {
      TransformBlock(w, oc_count, ic_count, layout, ob, ic, dst);
    }
  }
  return true;
}

}  // namespace accel::cpu
