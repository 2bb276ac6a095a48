// An idle Session burns no CPU: after a multi-threaded run, OpenMP worker threads must go to
// sleep instead of spinning while the caller does something else.
#include <time.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "accel/accel.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

double ProcessCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

TEST_CASE("A Session idles without burning CPU after a 2-thread run", "[session][idle]") {
  // A Conv large enough that oneDNN runs it as an OpenMP parallel region on both threads.
  testing::GraphBuilder b(13, 7);
  b.Input("x", {1, 16, 32, 32});
  b.Node("Conv", {"x", b.Weight("w", {16, 16, 3, 3}), b.Weight("b", {16})}, "y")
      ->add_attribute()
      ->CopyFrom(testing::IntsAttr("pads", {1, 1, 1, 1}));
  b.Output("y");
  Model model = testing::RequireModel(b.Bytes());
  Result<Session> session = Session::Create(model, {2});
  INFO(session.status().ToString());
  REQUIRE(session.ok());

  std::vector<float> x(16 * 32 * 32, 0.5f);
  std::vector<NamedTensor> inputs{
      {"x", Tensor::View(DType::kFloat32, Shape({1, 16, 32, 32}), x.data())}};
  for (int i = 0; i < 5; ++i) REQUIRE(session->Run(inputs).ok());

  double before = ProcessCpuMs();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  double idle_ms = ProcessCpuMs() - before;
  // libgomp's default spins ~300k iterations (a few ms) after the last region before sleeping
  // on a futex; OMP_WAIT_POLICY=ACTIVE spins the whole second (~1000 ms per worker).
  INFO("process CPU during a 1 s sleep: " << idle_ms << " ms");
  CHECK(idle_ms < 100.0);
}

}  // namespace
}  // namespace accel
