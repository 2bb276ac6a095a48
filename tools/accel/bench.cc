// `accel bench`: load/prepare time, first-run time and steady-state latency of a model.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "accel/accel.h"
#include "alloc_counter.h"
#include "args.h"
#include "commands.h"
#include "inputs.h"

namespace accel::cli {
namespace {

constexpr char kUsage[] = R"(usage: accel bench MODEL [options]

Measures Model::Load + Session::Create + Session::Prepare for the input shapes ("create": load
and prepare, which plans memory, sets up every kernel and packs the weights), the first run,
then the median, 90th
percentile and minimum latency of ITERS runs after WARMUP untimed runs, and the peak RSS.
Inputs are random (seed 0) unless given.

Options:
  --threads N        threads per run (default 0 = all physical cores)
  --opt-level N      graph optimization: 0 none, 1 basic, 2 all (default 2)
  --disable-pass NAMEskip one optimizer pass (names: `accel inspect --passes`); repeatable
  --weight-cache FILE packed-weight cache: written after the first run, memory-mapped by later
                     loads, which then skip packing (create_ms + first_run_ms show the gain)
  --precision P      fp32 (default) or bf16: Conv/Gemm/MatMul read inputs and weights as
                     bfloat16 (needs AVX512_BF16; relative error ~1e-3..1e-2)
  --warmup W         untimed runs after the first (default 3)
  --iters K          timed runs (default 20)
  --shape NAME=DIMS  shape of an input with symbolic dims, e.g. 1x3x224x224; repeatable
  --input NAME=FILE  feed input NAME from FILE (.npy or .pb); repeatable
  --json             print one JSON object: model, threads, warmup, iters, create_ms,
                     first_run_ms, median_ms, p90_ms, min_ms, peak_rss_mib,
                     idle_cpu_ms_per_s (process CPU time during a 1 s sleep after the last run),
                     arena_bytes and arena_lower_bound_bytes (the memory plan of the
                     activations), weights_bytes and packed_weights_bytes (the model's
                     constants as stored and as packed for the kernels), and for up to 20
                     more runs with outputs bound to buffers
                     allocated once (a frame loop): heap_allocs_per_run (every malloc/new of
                     the process; -1 in sanitizer builds), heap_allocs_per_run_runtime_libs (of
                     those, called from oneDNN or libgomp) and page_faults_per_run (minor
                     faults, getrusage)
  --serve            after the warmup runs print {"create_ms", "first_run_ms", "threads"} as
                     one JSON line, then read commands from stdin, one per line:
                     "run K" times K runs and prints {"times_ms": [...]}; "quit" (or end of
                     input) prints {"peak_rss_mib": X} and exits. --iters is ignored. This lets
                     a driver script interleave rounds of several runtimes.
  -h, --help         show this help
)";

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Nearest-rank percentile of sorted samples.
double Percentile(const std::vector<double>& sorted, double p) {
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.999999);
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// VmHWM of this process image. getrusage's ru_maxrss survives fork + exec on Linux, so under a
// large parent (a Python driver) it reports the parent's peak; it is only the fallback.
double PeakRssMib() {
  if (std::FILE* status = std::fopen("/proc/self/status", "r")) {
    char line[256];
    long long kib = -1;
    while (kib < 0 && std::fgets(line, sizeof(line), status)) {
      if (std::sscanf(line, "VmHWM: %lld kB", &kib) != 1) kib = -1;
    }
    std::fclose(status);
    if (kib >= 0) return static_cast<double>(kib) / 1024.0;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

double ProcessCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// CPU time the whole process burns while the caller sleeps 1 s right after a run: worker
// threads that keep spinning after the last parallel region show up here.
//
// libaccel keeps libgomp's default wait policy on purpose. With OMP_WAIT_POLICY unset, an idle
// worker spins ~300k iterations (measured 7-11 ms of CPU in total at 2 threads) and then sleeps
// on a futex, so an idle Session costs ~1% of a core once, not continuously. PASSIVE brings it
// to 0.05 ms but made 2-thread runs much slower (interleaved: yolox_nano median 24-34 -> 45-56
// ms, resnet18 22-42 -> 28-43 ms), since oneDNN enters hundreds of parallel regions per run.
// Setting the variables from the library is not possible anyway: libgomp reads them in its own
// ELF constructor, which runs before any constructor of libaccel or of the program.
double IdleCpuMsPerSecond() {
  double before = ProcessCpuMs();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  return ProcessCpuMs() - before;
}

// The --serve loop: one JSON line per command, flushed so a driver reading a pipe sees it.
int Serve(Session& session, const std::vector<NamedTensor>& inputs, double create_ms,
          double first_run_ms) {
  std::printf("{\"create_ms\": %.4f, \"first_run_ms\": %.4f, \"threads\": %d}\n", create_ms,
              first_run_ms, session.num_threads());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line) && line != "quit") {
    Result<int64_t> count = line.rfind("run ", 0) == 0
                                ? ParseInt("run", line.substr(4), 1, 1000000)
                                : Result<int64_t>(InvalidArgument("unknown command: " + line));
    if (!count.ok()) return UsageError("bench", count.status().message());
    std::string times;
    for (int64_t i = 0; i < *count; ++i) {
      Clock::time_point start = Clock::now();
      Result<std::vector<NamedTensor>> out = session.Run(inputs);
      double ms = MsSince(start);
      if (!out.ok()) return Failure("bench", out.status());
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%s%.4f", i ? ", " : "", ms);
      times += buf;
    }
    std::printf("{\"times_ms\": [%s]}\n", times.c_str());
    std::fflush(stdout);
  }
  std::printf("{\"peak_rss_mib\": %.2f}\n", PeakRssMib());
  std::fflush(stdout);
  return kExitOk;
}

struct SteadyState {
  double heap_allocs_per_run = -1;
  double runtime_lib_allocs_per_run = -1;
  double page_faults_per_run = 0;
};

long MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// `runs` runs with every output bound to a buffer allocated here once, as a frame loop would.
Result<SteadyState> MeasureBoundRuns(Session& session, const std::vector<NamedTensor>& inputs,
                                     const std::vector<NamedTensor>& sample, int64_t runs) {
  std::vector<Tensor> buffers;
  std::vector<NamedTensor> bound;
  for (const NamedTensor& out : sample) {
    ACCEL_ASSIGN_OR_RETURN(Tensor buffer, Tensor::Zeros(out.tensor.dtype(), out.tensor.shape()));
    bound.push_back({out.name, Tensor::View(buffer.dtype(), buffer.shape(), buffer.data())});
    buffers.push_back(std::move(buffer));
  }
  ACCEL_RETURN_IF_ERROR(session.Run(inputs, std::span<NamedTensor>(bound)));
  const long faults = MinorFaults();
  StartAllocCounting();
  Status status;
  for (int64_t i = 0; i < runs && status.ok(); ++i) status = session.Run(inputs, std::span(bound));
  const AllocCounts allocs = StopAllocCounting();
  const double n = static_cast<double>(runs);
  SteadyState steady;
  steady.page_faults_per_run = static_cast<double>(MinorFaults() - faults) / n;
  ACCEL_RETURN_IF_ERROR(status);
  if (AllocCountingAvailable()) {
    steady.heap_allocs_per_run = static_cast<double>(allocs.total) / n;
    steady.runtime_lib_allocs_per_run = static_cast<double>(allocs.runtime_libs) / n;
  }
  return steady;
}

}  // namespace

int BenchCommand(std::span<const std::string> args) {
  static const FlagSpec kFlags[] = {{"threads"},
                                    {"warmup"},
                                    {"iters"},
                                    {"shape", true, true},
                                    {"input", true, true},
                                    {"json", false},
                                    {"serve", false},
                                    {"opt-level"},
                                    {"disable-pass", true, true},
                                    {"weight-cache"},
                                    {"precision"}};
  Result<ParsedArgs> parsed = ParseArgs(args, kFlags);
  if (!parsed.ok()) return UsageError("bench", parsed.status().message());
  if (parsed->Has("help")) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) return UsageError("bench", "expected exactly one MODEL");
  Result<int64_t> threads = IntFlag(*parsed, "threads", 0, 0, 1024);
  Result<int64_t> warmup = IntFlag(*parsed, "warmup", 3, 0, 1000000);
  Result<int64_t> iters = IntFlag(*parsed, "iters", 20, 1, 1000000);
  for (const Result<int64_t>* r : {&threads, &warmup, &iters}) {
    if (!r->ok()) return UsageError("bench", r->status().message());
  }
  const std::string& path = parsed->positional[0];
  Result<LoadOptions> load_options = LoadOptionsFromFlags(*parsed);
  if (!load_options.ok()) return UsageError("bench", load_options.status().message());

  Clock::time_point start = Clock::now();
  Result<Model> model = Model::Load(path, *load_options);
  if (!model.ok()) return Failure("bench", model.status());
  Result<Session> session = Session::Create(*model, {static_cast<int>(*threads)});
  if (!session.ok()) return Failure("bench", session.status());
  double create_ms = MsSince(start);

  InputSpec spec{parsed->All("input"), parsed->All("shape"), 0};
  Result<std::vector<NamedTensor>> inputs = PrepareInputs(*model, spec);
  if (!inputs.ok()) return InputError("bench", inputs.status());
  // Preparing for the input shapes (planning, kernel set-up, weight packing) counts as creation;
  // the first run is then a steady-state run.
  std::vector<InputShape> shapes;
  for (const NamedTensor& in : *inputs) shapes.push_back({in.name, in.tensor.shape()});
  start = Clock::now();
  if (Status s = session->Prepare(shapes); !s.ok()) {
    if (parsed->Has("input")) return InputError("bench", s);
    return Failure("bench", s);
  }
  create_ms += MsSince(start);

  start = Clock::now();
  Result<std::vector<NamedTensor>> out = session->Run(*inputs);
  double first_run_ms = MsSince(start);
  if (!out.ok()) {
    // A wrong name, dtype or shape in --input is a bad command-line value.
    if (parsed->Has("input")) return InputError("bench", out.status());
    return Failure("bench", out.status());
  }
  for (int64_t i = 0; i < *warmup; ++i) {
    if (out = session->Run(*inputs); !out.ok()) return Failure("bench", out.status());
  }
  if (parsed->Has("serve")) return Serve(*session, *inputs, create_ms, first_run_ms);
  std::vector<double> samples;
  for (int64_t i = 0; i < *iters; ++i) {
    start = Clock::now();
    out = session->Run(*inputs);
    samples.push_back(MsSince(start));
    if (!out.ok()) return Failure("bench", out.status());
  }
  std::sort(samples.begin(), samples.end());
  double median = samples.size() % 2
                      ? samples[samples.size() / 2]
                      : (samples[samples.size() / 2 - 1] + samples[samples.size() / 2]) / 2;
  double p90 = Percentile(samples, 90);
  Result<SteadyState> steady =
      MeasureBoundRuns(*session, *inputs, *out, std::min<int64_t>(*iters, 20));
  if (!steady.ok()) return Failure("bench", steady.status());
  const MemoryInfo memory = session->memory_info();
  double rss = PeakRssMib();
  double idle_cpu = IdleCpuMsPerSecond();

  if (parsed->Has("json")) {
    std::printf(
        "{\"model\": %s, \"threads\": %d, \"warmup\": %lld, \"iters\": %lld, \"create_ms\": %.4f, "
        "\"first_run_ms\": %.4f, \"median_ms\": %.4f, \"p90_ms\": %.4f, \"min_ms\": %.4f, "
        "\"peak_rss_mib\": %.2f, \"idle_cpu_ms_per_s\": %.2f, \"arena_bytes\": %zu, "
        "\"arena_lower_bound_bytes\": %zu, \"weights_bytes\": %zu, "
        "\"packed_weights_bytes\": %zu, \"heap_allocs_per_run\": %.2f, "
        "\"heap_allocs_per_run_runtime_libs\": %.2f, \"page_faults_per_run\": %.2f}\n",
        JsonQuote(path).c_str(), session->num_threads(), static_cast<long long>(*warmup),
        static_cast<long long>(*iters), create_ms, first_run_ms, median, p90, samples.front(), rss,
        idle_cpu, memory.arena_bytes, memory.arena_lower_bound_bytes, memory.weights_bytes,
        memory.packed_weights_bytes, steady->heap_allocs_per_run,
        steady->runtime_lib_allocs_per_run, steady->page_faults_per_run);
  } else {
    std::printf("model        %s\n", path.c_str());
    std::printf("threads      %d\n", session->num_threads());
    std::printf("create       %.3f ms (load + session + prepare)\n", create_ms);
    std::printf("first run    %.3f ms\n", first_run_ms);
    std::printf(
        "latency      median %.3f ms, p90 %.3f ms, min %.3f ms (%lld runs after %lld "
        "warmup)\n",
        median, p90, samples.front(), static_cast<long long>(*iters),
        static_cast<long long>(*warmup));
    std::printf("peak RSS     %.1f MiB\n", rss);
    std::printf("idle CPU     %.2f ms per 1 s sleep after the last run\n", idle_cpu);
    std::printf("arena        %.2f MiB (lower bound %.2f MiB)\n",
                static_cast<double>(memory.arena_bytes) / (1024.0 * 1024.0),
                static_cast<double>(memory.arena_lower_bound_bytes) / (1024.0 * 1024.0));
    std::printf("weights      %.2f MiB as stored, %.2f MiB packed\n",
                static_cast<double>(memory.weights_bytes) / (1024.0 * 1024.0),
                static_cast<double>(memory.packed_weights_bytes) / (1024.0 * 1024.0));
    std::printf(
        "steady state %.2f heap allocations per run (%.2f of them in oneDNN/libgomp), %.2f page "
        "faults per run (outputs bound)\n",
        steady->heap_allocs_per_run, steady->runtime_lib_allocs_per_run,
        steady->page_faults_per_run);
  }
  return kExitOk;
}

}  // namespace accel::cli
