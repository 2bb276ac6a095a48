// `accel run`: runs a model once and prints (and optionally saves) its outputs.
#include <cstdio>
#include <filesystem>
#include <set>

#include "accel/accel.h"
#include "args.h"
#include "commands.h"
#include "inputs.h"
#include "npy_io.h"
#include "tensor_util.h"

namespace accel::cli {
namespace {

constexpr char kUsage[] = R"(usage: accel run MODEL [options]

Runs MODEL once and prints each output's name, dtype, shape and min/max/mean.

Options:
  --input NAME=FILE    feed input NAME from FILE (.npy or .pb TensorProto); repeatable
  --shape NAME=DIMS    shape of a random input, e.g. 1x3x224x224; repeatable
  --seed S             seed of the random inputs (default 0)
  --output-dir DIR     write each output to DIR/<name>.npy (DIR is created if needed)
  --threads N          threads per run (default 0 = all physical cores)
  --opt-level N        graph optimization: 0 none, 1 basic, 2 all (default 2)
  --disable-pass NAME  skip one optimizer pass (names: `accel inspect --passes`); repeatable
  --precision P        fp32 (default) or bf16: Conv/Gemm/MatMul read inputs and weights as
                       bfloat16 (needs AVX512_BF16; relative error ~1e-3..1e-2)
  --weight-cache FILE  packed-weight cache: written after the first run, memory-mapped by later
                       loads (a missing, stale or corrupt file is rebuilt)
  -h, --help           show this help

Inputs without --input are random: floats uniform in [-1, 1], integers in [0, 4], bools
random. Dimensions the model leaves symbolic need --shape, or default to 1 (with a note).
)";

Status WriteOutputs(const std::vector<NamedTensor>& outputs, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError(dir + ": cannot create directory: " + ec.message());
  std::set<std::string> used;
  for (const NamedTensor& out : outputs) {
    std::string base = SanitizeFileName(out.name);
    std::string name = base;
    for (int n = 1; used.count(name); ++n) name = base + "_" + std::to_string(n);
    used.insert(name);
    std::string path = (std::filesystem::path(dir) / (name + ".npy")).string();
    Status s = WriteNpy(path, out.tensor);
    if (!s.ok()) return Status(s.code(), "output '" + out.name + "': " + s.message());
    std::printf("wrote %s\n", path.c_str());
  }
  return Status::Ok();
}

}  // namespace

int RunCommand(std::span<const std::string> args) {
  static const FlagSpec kFlags[] = {{"input", true, true},
                                    {"shape", true, true},
                                    {"seed"},
                                    {"output-dir"},
                                    {"threads"},
                                    {"opt-level"},
                                    {"disable-pass", true, true},
                                    {"weight-cache"},
                                    {"precision"}};
  Result<ParsedArgs> parsed = ParseArgs(args, kFlags);
  if (!parsed.ok()) return UsageError("run", parsed.status().message());
  if (parsed->Has("help")) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) return UsageError("run", "expected exactly one MODEL");
  Result<int64_t> seed = IntFlag(*parsed, "seed", 0, 0, INT64_MAX);
  if (!seed.ok()) return UsageError("run", seed.status().message());
  Result<int64_t> threads = IntFlag(*parsed, "threads", 0, 0, 1024);
  if (!threads.ok()) return UsageError("run", threads.status().message());

  Result<LoadOptions> load_options = LoadOptionsFromFlags(*parsed);
  if (!load_options.ok()) return UsageError("run", load_options.status().message());
  Result<Model> model = Model::Load(parsed->positional[0], *load_options);
  if (!model.ok()) return Failure("run", model.status());
  InputSpec spec{parsed->All("input"), parsed->All("shape"), static_cast<uint64_t>(*seed)};
  Result<std::vector<NamedTensor>> inputs = PrepareInputs(*model, spec);
  if (!inputs.ok()) return InputError("run", inputs.status());
  Result<Session> session = Session::Create(*model, {static_cast<int>(*threads)});
  if (!session.ok()) return Failure("run", session.status());
  Result<std::vector<NamedTensor>> outputs = session->Run(*inputs);
  if (!outputs.ok()) {
    // A wrong name, dtype or shape in --input is a bad command-line value.
    if (parsed->Has("input")) return InputError("run", outputs.status());
    return Failure("run", outputs.status());
  }

  for (const NamedTensor& out : *outputs) {
    Summary s = Summarize(out.tensor);
    std::printf("%s: %s%s min %.6g max %.6g mean %.6g", out.name.c_str(),
                DTypeName(out.tensor.dtype()), ShapeToString(out.tensor.shape()).c_str(), s.min,
                s.max, s.mean);
    if (s.nan_count) std::printf(" (%lld NaN)", static_cast<long long>(s.nan_count));
    std::printf("\n");
  }
  if (parsed->Has("output-dir")) {
    Status s = WriteOutputs(*outputs, parsed->Get("output-dir"));
    if (!s.ok()) return Failure("run", s);
  }
  return kExitOk;
}

}  // namespace accel::cli
