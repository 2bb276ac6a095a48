// The Winograd weight transform against oneDNN's own reorder into the same layout.
#include "backends/cpu/winograd_weights.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "backends/cpu/dnnl_context.h"

namespace accel::cpu {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

struct ConvShape {
  int oc, ic, spatial;
};

// The weights layout oneDNN's Winograd convolution asks for at this shape, or an empty desc
// when it offers no Winograd kernel here.
memory::desc WinogradWeightsDesc(const ConvShape& s) {
  const memory::desc src({1, s.ic, s.spatial, s.spatial}, memory::data_type::f32, tag::nChw16c);
  const memory::desc dst({1, s.oc, s.spatial, s.spatial}, memory::data_type::f32, tag::nChw16c);
  const memory::desc wei({s.oc, s.ic, 3, 3}, memory::data_type::f32, tag::any);
  try {
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::convolution_winograd, src, wei, dst,
                                         {1, 1}, {1, 1}, {1, 1});
    return dnnl::convolution_forward::primitive_desc(desc, CpuEngine()).weights_desc();
  } catch (const dnnl::error&) {
    return {};
  }
}

TEST_CASE("Winograd weights match oneDNN's own transform into the same layout", "[winograd]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::set<int> formats_checked;
  // resnet's 3x3 shapes (each 2x3 layout occurs among them) and channel counts off the block.
  for (const ConvShape s : {ConvShape{64, 64, 56},
                            {128, 128, 28},
                            {256, 256, 14},
                            {512, 512, 7},
                            {24, 40, 14},
                            {72, 16, 28}}) {
    INFO("oc " << s.oc << " ic " << s.ic << " spatial " << s.spatial);
    const memory::desc want = WinogradWeightsDesc(s);
    if (want.is_zero() || want.data.format_kind != dnnl_format_kind_wino) continue;
    const memory::desc user({s.oc, s.ic, 3, 3}, memory::data_type::f32, tag::oihw);
    std::vector<float> w(static_cast<size_t>(s.oc) * s.ic * 9);
    for (float& v : w) v = dist(rng);

    std::vector<float> ours(want.get_size() / sizeof(float), -7.0f);
    if (!PackWinogradWeights(user, w.data(), want, ours.data())) {
      // Only the 4x3 layout is left to oneDNN.
      CHECK(want.data.format_desc.wino_desc.wino_format == dnnl_wino_wei_OBaaIBOIio);
      continue;
    }
    formats_checked.insert(want.data.format_desc.wino_desc.wino_format);

    std::vector<float> theirs(ours.size(), 0.0f);
    memory from(user, CpuEngine(), w.data());
    memory to(want, CpuEngine(), theirs.data());
    dnnl::reorder(from, to).execute(ThreadStream(), from, to);
    ThreadStream().wait();

    // Up to the bias area oneDNN appends after int8 layouts (none for float): every value. The
    // sums differ from oneDNN's only in rounding order, so a few ulps of the largest term.
    const size_t n = static_cast<size_t>(16) * want.data.format_desc.wino_desc.ic *
                     want.data.format_desc.wino_desc.oc;
    double worst = 0.0;
    for (size_t i = 0; i < n; ++i) worst = std::max<double>(worst, std::fabs(ours[i] - theirs[i]));
    CHECK(worst <= 1e-6);
  }
  // Both float 2x3 layouts were exercised (oneDNN picks them by channel count).
  CHECK(formats_checked.count(dnnl_wino_wei_aaOio) == 1);
  CHECK(formats_checked.count(dnnl_wino_wei_aaOBiOo) == 1);
}

TEST_CASE("Winograd weights refuse what they do not handle", "[winograd]") {
  const memory::desc user({16, 16, 3, 3}, memory::data_type::f32, tag::oihw);
  const memory::desc blocked({16, 16, 3, 3}, memory::data_type::f32, tag::OIhw16i16o);
  std::vector<float> w(16 * 16 * 9, 1.0f), out(16 * 16 * 16, 0.0f);
  CHECK_FALSE(PackWinogradWeights(user, w.data(), blocked, out.data()));
  const memory::desc want = WinogradWeightsDesc({64, 64, 56});
  if (!want.is_zero() && want.data.format_kind == dnnl_format_kind_wino) {
    // Weights of another shape than the layout was made for.
    const memory::desc other({64, 64, 5, 5}, memory::data_type::f32, tag::oihw);
    std::vector<float> big(64 * 64 * 25, 1.0f), dst(want.get_size() / sizeof(float));
    CHECK_FALSE(PackWinogradWeights(other, big.data(), want, dst.data()));
  }
}

}  // namespace
}  // namespace accel::cpu
