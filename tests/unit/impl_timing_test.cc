// PickFastest (backends/cpu/impl_timing.cc) between oneDNN's jit convolution and its reference
// one, which is orders of magnitude slower: the jit one must win in either order, and the choice
// is remembered under its key (KnownFastest) without timing again.
#include "backends/cpu/impl_timing.h"

#include <omp.h>

#include <catch2/catch.hpp>
#include <dnnl.hpp>
#include <string>
#include <vector>

#include "backends/cpu/dnnl_context.h"

namespace accel::cpu {
namespace {

using dnnl::memory;

// The jit and the reference implementation of one 3x3 convolution over 16 channels.
std::vector<dnnl::primitive_desc> JitAndReference(int64_t size) {
  const memory::desc src({1, 16, size, size}, memory::data_type::f32, memory::format_tag::nChw16c);
  const memory::desc dst = src;
  const memory::desc weights({16, 16, 3, 3}, memory::data_type::f32, memory::format_tag::any);
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                             dnnl::algorithm::convolution_direct, src, weights, dst,
                                             {1, 1}, {1, 1}, {1, 1});
  dnnl::convolution_forward::primitive_desc pd(desc, CpuEngine());
  std::vector<dnnl::primitive_desc> found;
  do {
    const std::string impl = pd.impl_info_str();
    const bool reference = impl.rfind("ref", 0) == 0;
    if (found.empty() != reference) found.push_back(pd);  // the first jit one, then the reference
  } while (found.size() < 2 && pd.next_impl());
  return found;
}

// On one thread: CI runs two test processes on two cores, and a two-thread jit run whose second
// thread waits for a core can stall for a scheduler slice (several ms), as long as the reference
// run at 12x12 took. At 24x24 the reference takes ~35 ms, far beyond such a stall.
class OneThread {
 public:
  OneThread() : threads_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(threads_); }
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;

 private:
  int threads_;
};

TEST_CASE("PickFastest picks the jit convolution over the reference one", "[timing]") {
  const OneThread one_thread;
  std::vector<dnnl::primitive_desc> jit_first = JitAndReference(24);
  REQUIRE(jit_first.size() == 2);
  const std::string key = "impl_timing_test jit/ref";
  CHECK_FALSE(KnownFastest(key, jit_first).has_value());
  CHECK(PickFastest(key, jit_first) == 0);
  CHECK(KnownFastest(key, jit_first) == std::optional<size_t>(0));

  const std::vector<dnnl::primitive_desc> ref_first = {jit_first[1], jit_first[0]};
  const std::string other = "impl_timing_test ref/jit";
  CHECK(PickFastest(other, ref_first) == 1);
  CHECK(KnownFastest(other, ref_first) == std::optional<size_t>(1));
  // One candidate needs no timing.
  CHECK(KnownFastest("impl_timing_test single", std::span(jit_first).first(1)) ==
        std::optional<size_t>(0));
}

}  // namespace
}  // namespace accel::cpu
