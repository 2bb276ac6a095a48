// `accel verify`: runs ONNX backend-test directories and compares every output.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "accel/accel.h"
#include "args.h"
#include "commands.h"
#include "compare.h"
#include "core/onnx_importer.h"
#include "tensor_util.h"

namespace accel::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kUsage[] = R"(usage: accel verify PATH... [options]

Runs tests in the ONNX backend-test layout and compares every output with the expected one.
Each PATH is a test directory (one *.onnx model plus test_data_set_*/input_*.pb and
output_*.pb) or a folder of test directories (searched one level deep, in name order).

Options:
  --exclude-file FILE  tests to skip: lines "test_name  # reason"; blank lines and # comments
                       are ignored
  --rtol R             relative tolerance (default 1e-3)
  --atol A             absolute tolerance (default 1e-5)
  --threads N          threads per run (default 0 = all physical cores)
  --opt-level N        graph optimization: 0 none, 1 basic, 2 all (default 2)
  --disable-pass NAME  skip one optimizer pass (names: `accel inspect --passes`); repeatable
  --precision P        fp32 (default) or bf16 (see `accel run --help`; loosen --rtol/--atol)
  --verbose            print per-output details
  -h, --help           show this help

A test directory may carry accel_tolerance.json with keys "rtol", "atol" and "rel_l2"; with
"rel_l2", an output passes when ||got - want||_2 / ||want||_2 <= rel_l2.
Values pass when |got - want| <= atol + rtol * |want|; NaN matches NaN; integers and bools
must match exactly; dtypes and shapes always must.

Prints one line per test (PASS, FAIL or SKIP; SKIP when libaccel reports the model as
unsupported or the test is excluded) and a final "N passed, N failed, N skipped".
Exit code: 0 when nothing failed, 1 otherwise, 2 on a usage error.
)";

struct Options {
  Tolerance tolerance;
  int threads = 0;
  LoadOptions load_options;
  bool verbose = false;
  std::map<std::string, std::string> excluded;  // test name -> reason
};

struct TestCase {
  std::string name;
  fs::path dir;
  std::string error;  // set when the path itself is unusable
};

enum class Verdict { kPass, kFail, kSkip };

struct Outcome {
  Verdict verdict = Verdict::kPass;
  std::string reason;
};

Outcome Fail(std::string reason) { return {Verdict::kFail, std::move(reason)}; }

// Unsupported features skip the test; every other error fails it.
Outcome FromStatus(const Status& s, const std::string& context) {
  if (s.code() == StatusCode::kUnsupported) return {Verdict::kSkip, s.message()};
  return Fail(context + s.ToString());
}

std::string TestName(const fs::path& p) {
  fs::path norm = p.lexically_normal();
  if (norm.filename().empty()) norm = norm.parent_path();
  std::string name = norm.filename().string();
  return name.empty() ? p.string() : name;
}

std::vector<fs::path> FilesWithExtension(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ext) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<fs::path> SortedSubdirectories(const fs::path& dir) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) dirs.push_back(it->path());
  }
  std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  return dirs;
}

std::vector<TestCase> CollectTests(const std::vector<std::string>& paths) {
  std::vector<TestCase> tests;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      tests.push_back({TestName(path), path, "not a directory"});
      continue;
    }
    if (!FilesWithExtension(path, ".onnx").empty()) {
      tests.push_back({TestName(path), path, ""});
      continue;
    }
    std::vector<fs::path> subdirs = SortedSubdirectories(path);
    if (subdirs.empty())
      tests.push_back({TestName(path), path, "no .onnx model and no test directories"});
    for (const fs::path& sub : subdirs) tests.push_back({TestName(sub), sub, ""});
  }
  return tests;
}

// Files named <prefix><N>.pb, ordered by N.
std::vector<fs::path> NumberedFiles(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<long, fs::path>> found;
  for (const fs::path& f : FilesWithExtension(dir, ".pb")) {
    std::string stem = f.stem().string();
    if (stem.compare(0, prefix.size(), prefix) != 0) continue;
    std::string digits = stem.substr(prefix.size());
    if (digits.empty() || digits.size() > 6 ||
        !std::all_of(digits.begin(), digits.end(), ::isdigit)) {
      continue;
    }
    found.emplace_back(std::stol(digits), f);
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> files;
  for (auto& [n, f] : found) files.push_back(f);
  return files;
}

Result<Tolerance> DirectoryTolerance(const fs::path& dir, const Tolerance& base) {
  fs::path file = dir / "accel_tolerance.json";
  std::error_code ec;
  if (!fs::exists(file, ec)) return base;
  ACCEL_ASSIGN_OR_RETURN(std::string text, core::ReadFile(file.string()));
  return ParseToleranceJson(text, base);
}

// Runs one data set; an empty reason with kPass means every output matched.
Outcome RunDataSet(Session& session, const Model& model, const fs::path& set_dir,
                   const Tolerance& tol, bool verbose) {
  const std::string set = set_dir.filename().string() + ": ";
  std::vector<NamedTensor> inputs;
  std::vector<fs::path> input_files = NumberedFiles(set_dir, "input_");
  for (size_t i = 0; i < input_files.size(); ++i) {
    std::string name;
    Result<Tensor> t = LoadTensorFile(input_files[i].string(), &name);
    if (!t.ok()) return Fail(set + t.status().ToString());
    if (name.empty()) {
      // Unnamed protos follow the order of the caller-fed inputs.
      if (i >= model.inputs().size()) {
        return Fail(set + input_files[i].filename().string() + " has no name and the model has " +
                    std::to_string(model.inputs().size()) + " inputs");
      }
      name = model.inputs()[i].name;
    }
    inputs.push_back({name, std::move(t).value()});
  }

  auto start = std::chrono::steady_clock::now();
  Result<std::vector<NamedTensor>> outputs = session.Run(inputs);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!outputs.ok()) return FromStatus(outputs.status(), set + "run failed: ");
  if (verbose) std::printf("  %sran in %.3f ms\n", set.c_str(), ms);

  std::vector<fs::path> output_files = NumberedFiles(set_dir, "output_");
  if (output_files.empty()) return Fail(set + "no output_*.pb files");
  std::vector<std::string> failures;
  for (size_t i = 0; i < output_files.size(); ++i) {
    std::string name;
    Result<Tensor> want = LoadTensorFile(output_files[i].string(), &name);
    if (!want.ok()) return Fail(set + want.status().ToString());
    const NamedTensor* got = nullptr;
    for (const NamedTensor& out : *outputs) {
      if (!name.empty() && out.name == name) got = &out;
    }
    if (name.empty() && i < outputs->size()) got = &(*outputs)[i];
    if (!got) {
      return Fail(set + "expected output " +
                  (name.empty() ? "#" + std::to_string(i) : "'" + name + "'") +
                  " is not an output of the model");
    }
    std::string diff = CompareTensors(got->tensor, *want, tol);
    if (verbose) {
      std::printf("  %soutput '%s' %s%s: %s\n", set.c_str(), got->name.c_str(),
                  DTypeName(got->tensor.dtype()), ShapeToString(got->tensor.shape()).c_str(),
                  diff.empty() ? "ok" : diff.c_str());
    }
    if (!diff.empty()) failures.push_back("output '" + got->name + "': " + diff);
  }
  if (failures.empty()) return {};
  // The first mismatch in full; the others only counted, to keep one line per test.
  std::string more = failures.size() == 1
                         ? ""
                         : " (and " + std::to_string(failures.size() - 1) + " more outputs differ)";
  return Fail(set + failures[0] + more);
}

Outcome RunTest(const TestCase& test, const Options& opts) {
  if (!test.error.empty()) return Fail(test.dir.string() + ": " + test.error);
  std::vector<fs::path> models = FilesWithExtension(test.dir, ".onnx");
  if (models.size() != 1) {
    return Fail(test.dir.string() + ": expected one .onnx model, found " +
                std::to_string(models.size()));
  }
  Result<Tolerance> tol = DirectoryTolerance(test.dir, opts.tolerance);
  if (!tol.ok()) return Fail(tol.status().ToString());

  Result<Model> model = Model::Load(models[0].string(), opts.load_options);
  if (!model.ok()) return FromStatus(model.status(), "load failed: ");
  SessionOptions session_options;
  session_options.num_threads = opts.threads;
  Result<Session> session = Session::Create(*model, session_options);
  if (!session.ok()) return FromStatus(session.status(), "session failed: ");

  std::vector<fs::path> sets;
  for (const fs::path& d : SortedSubdirectories(test.dir)) {
    if (d.filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(d);
  }
  if (sets.empty()) return Fail(test.dir.string() + ": no test_data_set_* directories");
  for (const fs::path& set : sets) {
    Outcome o = RunDataSet(*session, *model, set, *tol, opts.verbose);
    if (o.verdict != Verdict::kPass) return o;
  }
  return {};
}

Result<std::map<std::string, std::string>> ReadExcludeFile(const std::string& path) {
  ACCEL_ASSIGN_OR_RETURN(std::string text, core::ReadFile(path));
  std::map<std::string, std::string> excluded;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    std::string reason;
    if (size_t hash = line.find('#'); hash != std::string::npos) {
      reason = line.substr(hash + 1);
      line.resize(hash);
    }
    std::istringstream fields(line);
    std::string name, extra;
    if (!(fields >> name)) continue;  // blank or comment-only
    if (fields >> extra) {
      return InvalidArgument(path + ":" + std::to_string(number) +
                             ": expected 'test_name  # reason', got '" + line + "'");
    }
    size_t first = reason.find_first_not_of(" \t\r");
    size_t last = reason.find_last_not_of(" \t\r");
    excluded[name] =
        first == std::string::npos ? "no reason given" : reason.substr(first, last - first + 1);
  }
  return excluded;
}

}  // namespace

int VerifyCommand(std::span<const std::string> args) {
  static const FlagSpec kFlags[] = {{"exclude-file"},
                                    {"rtol"},
                                    {"atol"},
                                    {"threads"},
                                    {"verbose", false},
                                    {"opt-level"},
                                    {"disable-pass", true, true},
                                    {"precision"}};
  Result<ParsedArgs> parsed = ParseArgs(args, kFlags);
  if (!parsed.ok()) return UsageError("verify", parsed.status().message());
  if (parsed->Has("help")) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (parsed->positional.empty()) return UsageError("verify", "expected at least one PATH");

  Options opts;
  opts.verbose = parsed->Has("verbose");
  for (auto [flag, target] :
       {std::pair{"rtol", &opts.tolerance.rtol}, std::pair{"atol", &opts.tolerance.atol}}) {
    if (!parsed->Has(flag)) continue;
    Result<double> v = ParseNonNegative(flag, parsed->Get(flag));
    if (!v.ok()) return UsageError("verify", v.status().message());
    *target = *v;
  }
  Result<int64_t> threads = IntFlag(*parsed, "threads", 0, 0, 1024);
  if (!threads.ok()) return UsageError("verify", threads.status().message());
  opts.threads = static_cast<int>(*threads);
  Result<LoadOptions> load_options = LoadOptionsFromFlags(*parsed);
  if (!load_options.ok()) return UsageError("verify", load_options.status().message());
  opts.load_options = std::move(load_options).value();
  if (parsed->Has("exclude-file")) {
    auto excluded = ReadExcludeFile(parsed->Get("exclude-file"));
    if (!excluded.ok()) return UsageError("verify", excluded.status().ToString());
    opts.excluded = std::move(excluded).value();
  }

  int passed = 0, failed = 0, skipped = 0;
  for (const TestCase& test : CollectTests(parsed->positional)) {
    Outcome o;
    if (auto it = opts.excluded.find(test.name); it != opts.excluded.end()) {
      o = {Verdict::kSkip, "excluded: " + it->second};
    } else {
      try {
        o = RunTest(test, opts);
      } catch (const std::exception& e) {
        o = Fail(std::string("internal error: ") + e.what());
      }
    }
    switch (o.verdict) {
      case Verdict::kPass:
        ++passed;
        std::printf("PASS %s\n", test.name.c_str());
        break;
      case Verdict::kFail:
        ++failed;
        std::printf("FAIL %s: %s\n", test.name.c_str(), o.reason.c_str());
        break;
      case Verdict::kSkip:
        ++skipped;
        std::printf("SKIP %s: %s\n", test.name.c_str(), o.reason.c_str());
        break;
    }
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? kExitFailure : kExitOk;
}

}  // namespace accel::cli
