// `accel profile`: where the time of a run goes, per node and per op type.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "args.h"
#include "commands.h"
#include "inputs.h"

namespace accel::cli {
namespace {

constexpr char kUsage[] = R"(usage: accel profile MODEL [options]

Runs the model WARMUP untimed times, then ITERS times with per-node profiling
(SessionOptions::enable_profiling), and prints the nodes that took the most time, the time per
op type (fused nodes count under their fused name, e.g. Conv+Add+Relu) and the sum of the node
times next to the measured run time (the difference is input checks, output copies and
freeing). Times are wall-clock means per run. Inputs are random (seed 0) unless given.

Options:
  --threads N        threads per run (default 0 = all physical cores)
  --opt-level N      graph optimization: 0 none, 1 basic, 2 all (default 2)
  --disable-pass NAMEskip one optimizer pass (names: `accel inspect --passes`); repeatable
  --precision P      fp32 (default) or bf16 (see `accel run --help`)
  --warmup W         untimed runs before profiling (default 3)
  --iters K          profiled runs (default 20)
  --top N            nodes to list (default 20; 0 = all)
  --shape NAME=DIMS  shape of an input with symbolic dims, e.g. 1x3x224x224; repeatable
  --input NAME=FILE  feed input NAME from FILE (.npy or .pb); repeatable
  --json             print one JSON object: model, threads, warmup, iters, run_ms (mean
                     measured run), node_sum_ms, op_types [{op_type, count, ms, percent}] by
                     time, nodes [{node, op_type, detail, runs, ms}] in execution order (ms
                     and percent per run; percent of run_ms)
  -h, --help         show this help
)";

using Clock = std::chrono::steady_clock;

struct OpTypeTime {
  std::string op_type;
  int count = 0;
  double ms = 0;  // per run
};

double PerRun(const NodeProfile& p) { return p.runs > 0 ? p.total_ms / p.runs : 0; }

// Per op type, most expensive first.
std::vector<OpTypeTime> ByOpType(const std::vector<NodeProfile>& profile) {
  std::map<std::string, OpTypeTime> by_type;
  for (const NodeProfile& p : profile) {
    OpTypeTime& t = by_type[p.op_type];
    t.op_type = p.op_type;
    ++t.count;
    t.ms += PerRun(p);
  }
  std::vector<OpTypeTime> types;
  for (auto& [name, t] : by_type) types.push_back(t);
  std::stable_sort(types.begin(), types.end(),
                   [](const OpTypeTime& a, const OpTypeTime& b) { return a.ms > b.ms; });
  return types;
}

double Percent(double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0; }

// Long exporter names ("/backbone/stage2/conv/Conv") keep their informative end.
std::string Shorten(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  return ".." + s.substr(s.size() - (width - 2));
}

void PrintJson(const std::string& path, int threads, int64_t warmup, int64_t iters, double run_ms,
               double node_sum_ms, const std::vector<OpTypeTime>& types,
               const std::vector<NodeProfile>& profile) {
  std::printf(
      "{\"model\": %s, \"threads\": %d, \"warmup\": %lld, \"iters\": %lld, \"run_ms\": %.4f, "
      "\"node_sum_ms\": %.4f,\n \"op_types\": [",
      JsonQuote(path).c_str(), threads, static_cast<long long>(warmup),
      static_cast<long long>(iters), run_ms, node_sum_ms);
  for (size_t i = 0; i < types.size(); ++i) {
    std::printf("%s\n  {\"op_type\": %s, \"count\": %d, \"ms\": %.4f, \"percent\": %.2f}",
                i ? "," : "", JsonQuote(types[i].op_type).c_str(), types[i].count, types[i].ms,
                Percent(types[i].ms, run_ms));
  }
  std::printf("],\n \"nodes\": [");
  for (size_t i = 0; i < profile.size(); ++i) {
    const NodeProfile& p = profile[i];
    std::printf(
        "%s\n  {\"node\": %s, \"op_type\": %s, \"detail\": %s, \"runs\": %lld, \"ms\": %.4f}",
        i ? "," : "", JsonQuote(p.node).c_str(), JsonQuote(p.op_type).c_str(),
        JsonQuote(p.detail).c_str(), static_cast<long long>(p.runs), PerRun(p));
  }
  std::printf("]}\n");
}

void PrintTables(const std::string& path, int threads, int64_t warmup, int64_t iters, size_t top,
                 double run_ms, double node_sum_ms, const std::vector<OpTypeTime>& types,
                 std::vector<NodeProfile> profile) {
  std::printf("model      %s\n", path.c_str());
  std::printf("threads    %d\n", threads);
  std::printf("runs       %lld profiled after %lld warmup\n", static_cast<long long>(iters),
              static_cast<long long>(warmup));
  std::printf("run time   %.3f ms (mean measured around Session::Run)\n", run_ms);
  std::printf("node sum   %.3f ms (%.1f%%; the rest is input checks, output copies, freeing)\n",
              node_sum_ms, Percent(node_sum_ms, run_ms));

  std::stable_sort(profile.begin(), profile.end(), [](const NodeProfile& a, const NodeProfile& b) {
    return PerRun(a) > PerRun(b);
  });
  const size_t shown = top == 0 ? profile.size() : std::min(top, profile.size());
  // Columns as wide as their longest entry, within reason; the inputs come last, unpadded.
  size_t type_width = 7, node_width = 4;
  for (size_t i = 0; i < shown; ++i) {
    type_width = std::max(type_width, std::min<size_t>(profile[i].op_type.size(), 40));
    node_width = std::max(node_width, std::min<size_t>(profile[i].node.size(), 40));
  }
  const int tw = static_cast<int>(type_width), nw = static_cast<int>(node_width);
  std::printf("\ntop %zu of %zu nodes (ms per run, %% of run time)\n", shown, profile.size());
  std::printf("%9s %6s %6s  %-*s  %-*s  %s\n", "ms", "%", "cum%", tw, "op type", nw, "node",
              "inputs");
  double cumulative = 0;
  for (size_t i = 0; i < shown; ++i) {
    const NodeProfile& p = profile[i];
    cumulative += PerRun(p);
    std::printf("%9.3f %6.1f %6.1f  %-*s  %-*s  %s\n", PerRun(p), Percent(PerRun(p), run_ms),
                Percent(cumulative, run_ms), tw, Shorten(p.op_type, type_width).c_str(), nw,
                Shorten(p.node, node_width).c_str(), p.detail.c_str());
  }

  size_t all_types_width = 15;  // "(outside nodes)"
  for (const OpTypeTime& t : types) all_types_width = std::max(all_types_width, t.op_type.size());
  const int aw = static_cast<int>(all_types_width);
  std::printf("\nper op type (ms per run, %% of run time)\n");
  std::printf("%-*s %6s %9s %6s\n", aw, "op type", "count", "ms", "%");
  for (const OpTypeTime& t : types) {
    std::printf("%-*s %6d %9.3f %6.1f\n", aw, t.op_type.c_str(), t.count, t.ms,
                Percent(t.ms, run_ms));
  }
  std::printf("%-*s %6s %9.3f %6.1f\n", aw, "(outside nodes)", "", run_ms - node_sum_ms,
              Percent(run_ms - node_sum_ms, run_ms));
}

}  // namespace

int ProfileCommand(std::span<const std::string> args) {
  static const FlagSpec kFlags[] = {{"threads"},
                                    {"warmup"},
                                    {"iters"},
                                    {"top"},
                                    {"shape", true, true},
                                    {"input", true, true},
                                    {"json", false},
                                    {"opt-level"},
                                    {"disable-pass", true, true},
                                    {"precision"}};
  Result<ParsedArgs> parsed = ParseArgs(args, kFlags);
  if (!parsed.ok()) return UsageError("profile", parsed.status().message());
  if (parsed->Has("help")) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) return UsageError("profile", "expected exactly one MODEL");
  Result<int64_t> threads = IntFlag(*parsed, "threads", 0, 0, 1024);
  Result<int64_t> warmup = IntFlag(*parsed, "warmup", 3, 0, 1000000);
  Result<int64_t> iters = IntFlag(*parsed, "iters", 20, 1, 1000000);
  Result<int64_t> top = IntFlag(*parsed, "top", 20, 0, 1000000);
  for (const Result<int64_t>* r : {&threads, &warmup, &iters, &top}) {
    if (!r->ok()) return UsageError("profile", r->status().message());
  }
  const std::string& path = parsed->positional[0];
  Result<LoadOptions> load_options = LoadOptionsFromFlags(*parsed);
  if (!load_options.ok()) return UsageError("profile", load_options.status().message());

  Result<Model> model = Model::Load(path, *load_options);
  if (!model.ok()) return Failure("profile", model.status());
  SessionOptions options;
  options.num_threads = static_cast<int>(*threads);
  options.enable_profiling = true;
  Result<Session> session = Session::Create(*model, options);
  if (!session.ok()) return Failure("profile", session.status());

  InputSpec spec{parsed->All("input"), parsed->All("shape"), 0};
  Result<std::vector<NamedTensor>> inputs = PrepareInputs(*model, spec);
  if (!inputs.ok()) return InputError("profile", inputs.status());

  // The first run may fail on a wrong --input: that is a bad command-line value.
  Result<std::vector<NamedTensor>> out = session->Run(*inputs);
  if (!out.ok()) {
    if (parsed->Has("input")) return InputError("profile", out.status());
    return Failure("profile", out.status());
  }
  for (int64_t i = 0; i < *warmup; ++i) {
    if (out = session->Run(*inputs); !out.ok()) return Failure("profile", out.status());
  }
  session->ResetProfile();
  double total_ms = 0;
  for (int64_t i = 0; i < *iters; ++i) {
    Clock::time_point start = Clock::now();
    out = session->Run(*inputs);
    total_ms += std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!out.ok()) return Failure("profile", out.status());
  }

  const std::vector<NodeProfile> profile = session->Profile();
  const double run_ms = total_ms / static_cast<double>(*iters);
  double node_sum_ms = 0;
  for (const NodeProfile& p : profile) node_sum_ms += PerRun(p);
  const std::vector<OpTypeTime> types = ByOpType(profile);
  if (parsed->Has("json")) {
    PrintJson(path, session->num_threads(), *warmup, *iters, run_ms, node_sum_ms, types, profile);
  } else {
    PrintTables(path, session->num_threads(), *warmup, *iters, static_cast<size_t>(*top), run_ms,
                node_sum_ms, types, profile);
  }
  return kExitOk;
}

}  // namespace accel::cli
