// Is oneDNN's depthwise post-op (a 1x1 conv with the following 3x3 depthwise conv fused into
// one primitive) faster than the two convs run one after the other?
//
// The layers are the expand 1x1 + depthwise 3x3 pairs of mobilenet_v2 and efficientnet_b0, in
// nChw16c with Relu6 after both convs, as libaccel would run them. Each primitive runs 5 times
// untimed, then the best of 5 batches of 200 runs counts. Threads: OMP_NUM_THREADS.
//
//   build-lead/benchmarks/dw_post_op
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dnnl.hpp>
#include <unordered_map>

namespace {

using dnnl::memory;
using Args = std::unordered_map<int, memory>;

const dnnl::engine& Engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

memory Zeros(const memory::desc& md) {
  memory m(md, Engine());
  if (md.get_size() > 0) std::memset(m.get_data_handle(), 0, md.get_size());
  return m;
}

// Best mean time of one run, in ms.
double TimeMs(const dnnl::primitive& p, const Args& args) {
  dnnl::stream stream(Engine());
  for (int i = 0; i < 5; ++i) p.execute(stream, args);
  stream.wait();
  constexpr int kRuns = 200;
  double best = 1e30;
  for (int batch = 0; batch < 5; ++batch) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRuns; ++i) p.execute(stream, args);
    stream.wait();
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    best = std::min(best, took.count() / kRuns);
  }
  return best;
}

dnnl::primitive_attr Relu6(bool with_dw, int64_t stride) {
  dnnl::post_ops ops;
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, 0.0f, 6.0f);
  if (with_dw) {
    ops.append_dw(memory::data_type::f32, memory::data_type::f32, memory::data_type::f32, 3, stride,
                  1, 0, {});
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, 0.0f, 6.0f);
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  return attr;
}

dnnl::convolution_forward::primitive_desc Conv(const memory::desc& src, const memory::desc& w,
                                               const memory::desc& dst, int64_t stride, int64_t pad,
                                               const dnnl::primitive_attr& attr) {
  const memory::desc bias({w.dims()[0]}, memory::data_type::f32, memory::format_tag::a);
  return {{dnnl::prop_kind::forward_inference,
           dnnl::algorithm::convolution_direct,
           src,
           w,
           bias,
           dst,
           {stride, stride},
           {pad, pad},
           {pad, pad}},
          attr,
          Engine()};
}

Args ConvArgs(const dnnl::convolution_forward::primitive_desc& pd, const memory& src,
              const memory& dst) {
  Args args = {{DNNL_ARG_SRC, src},
               {DNNL_ARG_WEIGHTS, Zeros(pd.weights_desc())},
               {DNNL_ARG_BIAS, Zeros(pd.bias_desc())},
               {DNNL_ARG_DST, dst}};
  for (int arg : {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS,
                  DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, DNNL_ARG_SCRATCHPAD}) {
    const memory::desc md = pd.query_md(dnnl::query::exec_arg_md, arg);
    if (!md.is_zero()) args[arg] = Zeros(md);
  }
  return args;
}

void Layer(int64_t ic, int64_t oc, int64_t hw, int64_t stride) {
  using tag = memory::format_tag;
  const auto f32 = memory::data_type::f32;
  const int64_t out = (hw + 2 - 3) / stride + 1;
  const memory::desc src({1, ic, hw, hw}, f32, tag::nChw16c);
  const memory::desc mid({1, oc, hw, hw}, f32, tag::nChw16c);
  const memory::desc dst({1, oc, out, out}, f32, tag::nChw16c);
  const memory::desc w1({oc, ic, 1, 1}, f32, tag::any);
  const memory::desc wdw({oc, 1, 1, 3, 3}, f32, tag::any);

  const auto pd_1x1 = Conv(src, w1, mid, 1, 0, Relu6(false, 1));
  const auto pd_dw = Conv(mid, wdw, dst, stride, 1, Relu6(false, 1));
  const auto pd_fused = Conv(src, w1, mid, 1, 0, Relu6(true, stride));
  const memory x = Zeros(src), y_mid = Zeros(mid), y = Zeros(dst);
  const double t_1x1 = TimeMs(dnnl::primitive(pd_1x1), ConvArgs(pd_1x1, x, y_mid));
  const double t_dw = TimeMs(dnnl::primitive(pd_dw), ConvArgs(pd_dw, y_mid, y));
  const double t_fused =
      TimeMs(dnnl::primitive(pd_fused), ConvArgs(pd_fused, x, Zeros(pd_fused.dst_desc())));
  std::printf(
      "%4ld -> %4ld at %3ldx%-3ld stride %ld | %7.3f + %7.3f = %7.3f | %7.3f | %5.2f | %s\n",
      static_cast<long>(ic), static_cast<long>(oc), static_cast<long>(hw), static_cast<long>(hw),
      static_cast<long>(stride), t_1x1, t_dw, t_1x1 + t_dw, t_fused, t_fused / (t_1x1 + t_dw),
      pd_fused.impl_info_str());
}

}  // namespace

int main() {
  std::printf(
      "layer                            | 1x1 ms  + dw ms   = separate | fused   | ratio | fused "
      "impl\n");
  const int64_t layers[][4] = {
      {16, 96, 112, 2}, {24, 144, 56, 2}, {32, 192, 28, 2}, {96, 576, 14, 2}, {24, 144, 56, 1},
      {32, 192, 28, 1}, {64, 384, 14, 1}, {24, 72, 56, 2},  {40, 240, 28, 2}, {80, 480, 14, 2}};
  for (const auto& l : layers) Layer(l[0], l[1], l[2], l[3]);
}
