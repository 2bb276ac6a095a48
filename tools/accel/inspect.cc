// `accel inspect`: what a model contains and which of its ops libaccel cannot run yet.
//
// Works from the imported graph rather than Model::Load, so that a model with unsupported ops
// can still be inspected, and lists every unsupported op rather than the first.
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "accel/session.h"
#include "args.h"
#include "backends/cpu/cpu_registry.h"
#include "commands.h"
#include "core/graph.h"
#include "core/model_impl.h"
#include "core/onnx_importer.h"
#include "core/op_def.h"
#include "core/optimizer.h"
#include "inputs.h"

namespace accel::cli {
namespace {

constexpr char kUsage[] = R"(usage: accel inspect MODEL [options]
       accel inspect --passes

Prints the model's inputs and outputs (dtype and shape, symbolic dims by name), the number of
nodes, how often each op occurs, and every op the CPU backend cannot run, with the reason.
When the model loads, then prints the optimized plan: the rewrites of each optimizer pass and
the final node list, fused nodes marked with what was fused into them, and the memory plan
for the input shapes (symbolic dims 1 unless --shape gives them): the activation arena, the
planner's lower bound (the most bytes of intermediate tensors live at once), how many tensors
it placed and how many nodes allocate per run because their shapes depend on data.
Exit code 0 when the model could be read, even if some ops are unsupported.

Options:
  --opt-level N        graph optimization: 0 none, 1 basic, 2 all (default 2)
  --disable-pass NAME  skip one optimizer pass; repeatable
  --shape NAME=DIMS    shape of an input with symbolic dims, e.g. 1x3x224x224; repeatable
  --passes             list the optimizer passes (name and level) and exit
  -h, --help           show this help
)";

// "float32[N,3,224,224]": symbolic dims by name, unknown ones as '?', unknown rank as '*'.
std::string FormatType(const core::TensorType& type) {
  std::string s = DTypeName(type.dtype);
  if (!type.has_shape) return s + "[*]";
  s += "[";
  for (size_t d = 0; d < type.dims.size(); ++d) {
    if (d) s += ",";
    std::string name = d < type.dim_names.size() ? type.dim_names[d] : "";
    if (type.dims[d] >= 0) {
      s += std::to_string(type.dims[d]);
    } else {
      s += name.empty() ? "?" : name;
    }
  }
  return s + "]";
}

std::string OpName(const core::Node& node) {
  return (node.domain.empty() || node.domain == "ai.onnx" ? "" : node.domain + ".") + node.op_type;
}

void PrintValues(const char* title, const core::Graph& g, const std::vector<int>& ids,
                 bool skip_constants) {
  std::printf("%s:\n", title);
  for (int v : ids) {
    const core::Value& value = g.values[v];
    if (skip_constants && value.constant) continue;
    std::printf("  %-24s %s\n", value.name.c_str(), FormatType(value.type).c_str());
  }
}

// Op -> reason for each op the CPU backend cannot run at the node's opset.
std::map<std::string, std::string> UnsupportedOps(const core::Graph& g) {
  std::map<std::string, std::string> unsupported;
  const core::OpRegistry& registry = cpu::CpuRegistry();
  for (const core::Node& node : g.nodes) {
    const core::OpDef* def = registry.Find(node.domain, node.op_type);
    if (!def) {
      unsupported.emplace(OpName(node), "not implemented");
      continue;
    }
    Result<int> version = core::ResolveVersion(*def, node.opset);
    if (!version.ok()) unsupported.emplace(OpName(node), version.status().message());
  }
  return unsupported;
}

// "accel_activation=Relu, accel_sum=1": the internal attributes a fusion pass set.
std::string FusedAttributes(const core::Node& node) {
  std::string s;
  for (const auto& [name, value] : node.attrs.all()) {
    if (name.rfind("accel_", 0) != 0) continue;
    s += (s.empty() ? "" : ", ") + name + "=";
    if (const auto* i = std::get_if<int64_t>(&value)) {
      s += std::to_string(*i);
    } else if (const auto* f = std::get_if<float>(&value)) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%g", *f);
      s += buf;
    } else if (const auto* str = std::get_if<std::string>(&value)) {
      s += *str;
    } else {
      s += core::AttributeTypeName(value);
    }
  }
  return s;
}

void PrintPlan(const internal::ModelImpl& impl) {
  std::printf("optimizer passes (rewrites):\n");
  if (impl.optimizer_report.empty()) std::printf("  none run\n");
  for (const core::PassReport& p : impl.optimizer_report) {
    std::printf("  %-24s %d\n", p.name.c_str(), p.rewrites);
  }
  const core::Graph& g = impl.graph;
  int fused = 0;
  for (const core::Node& node : g.nodes) fused += !FusedAttributes(node).empty();
  int blocked = 0, reorders = 0;
  for (const core::Value& v : g.values) blocked += v.layout == core::Layout::kBlocked;
  for (const core::Node& node : g.nodes) reorders += node.op_type == "Reorder";
  std::printf("optimized plan: %zu nodes, %d fused, %d values in layout %s, %d reorders\n",
              g.nodes.size(), fused, blocked, core::LayoutName(core::Layout::kBlocked), reorders);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const core::Node& node = g.nodes[n];
    std::string outs;
    for (int v : node.outputs) {
      if (v == core::kNoValue) continue;
      outs += (outs.empty() ? "" : ", ") + g.values[v].name;
      // Blocked outputs are marked; plain is the default.
      if (g.values[v].layout != core::Layout::kPlain) {
        outs += std::string(" <") + core::LayoutName(g.values[v].layout) + ">";
      }
    }
    std::printf("  %4zu %-20s %s", n, OpName(node).c_str(), outs.c_str());
    std::string f = FusedAttributes(node);
    if (!f.empty()) std::printf("  [fused: %s]", f.c_str());
    std::printf("\n");
  }
}

}  // namespace

// The Session's memory plan for the shapes of the inputs `accel run` would feed.
void PrintMemoryPlan(const Model& model, const std::vector<std::string>& shapes) {
  Result<std::vector<NamedTensor>> inputs = PrepareInputs(model, {{}, shapes, 0});
  Result<Session> session = Session::Create(model, {.num_threads = 1});
  std::vector<InputShape> input_shapes;
  for (const NamedTensor& in : inputs.ok() ? *inputs : std::vector<NamedTensor>{}) {
    input_shapes.push_back({in.name, in.tensor.shape()});
  }
  Status prepared = !inputs.ok()   ? inputs.status()
                    : session.ok() ? session->Prepare(input_shapes)
                                   : session.status();
  if (!prepared.ok()) {
    std::printf("memory plan: unavailable (%s)\n", prepared.message().c_str());
    return;
  }
  const MemoryInfo info = session->memory_info();
  auto mib = [](size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); };
  std::printf("memory plan:\n");
  for (const InputShape& s : input_shapes) {
    std::printf("  input %-18s %s\n", s.name.c_str(), ShapeToString(s.shape).c_str());
  }
  std::printf("  arena_bytes              %zu (%.2f MiB)\n", info.arena_bytes,
              mib(info.arena_bytes));
  std::printf("  arena_lower_bound_bytes  %zu (%.2f MiB)", info.arena_lower_bound_bytes,
              mib(info.arena_lower_bound_bytes));
  if (info.arena_lower_bound_bytes > 0) {
    std::printf(", arena / bound %.3f", static_cast<double>(info.arena_bytes) /
                                            static_cast<double>(info.arena_lower_bound_bytes));
  }
  std::printf("\n  planned tensors          %d (%d written in place)\n", info.planned_tensors,
              info.inplace_tensors);
  std::printf("  elided concats           %d (inputs computed into the output)\n",
              info.elided_concats);
  std::printf("  dynamic nodes            %d (allocate per run)\n", info.dynamic_nodes);
  std::printf("  weights_bytes            %zu (%.2f MiB, as stored)\n", info.weights_bytes,
              mib(info.weights_bytes));
  std::printf("  packed_weights_bytes     %zu (%.2f MiB, in the layouts the kernels chose)\n",
              info.packed_weights_bytes, mib(info.packed_weights_bytes));
}

int InspectCommand(std::span<const std::string> args) {
  static const FlagSpec kFlags[] = {
      {"opt-level"}, {"disable-pass", true, true}, {"passes", false}, {"shape", true, true}};
  Result<ParsedArgs> parsed = ParseArgs(args, kFlags);
  if (!parsed.ok()) return UsageError("inspect", parsed.status().message());
  if (parsed->Has("help")) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (parsed->Has("passes")) {
    std::printf("optimizer passes, in order (level 1 = basic, 2 = all):\n");
    for (const core::PassInfo& p : core::ListPasses()) std::printf("  %-24s %d\n", p.name, p.level);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) return UsageError("inspect", "expected exactly one MODEL");
  Result<LoadOptions> load_options = LoadOptionsFromFlags(*parsed);
  if (!load_options.ok()) return UsageError("inspect", load_options.status().message());
  const std::string& path = parsed->positional[0];

  Result<std::string> bytes = core::ReadFile(path);
  if (!bytes.ok()) return Failure("inspect", bytes.status());
  core::OnnxImportOptions options;
  options.base_dir = std::filesystem::path(path).parent_path().string();
  if (options.base_dir.empty()) options.base_dir = ".";
  Result<core::Graph> graph = core::ImportOnnx(std::as_bytes(std::span(*bytes)), options);
  if (!graph.ok()) {
    return Failure("inspect",
                   Status(graph.status().code(), path + ": " + graph.status().message()));
  }
  const core::Graph& g = *graph;

  std::printf("model: %s\n", path.c_str());
  PrintValues("inputs", g, g.inputs, /*skip_constants=*/true);
  int overridable = 0;
  for (int v : g.inputs) overridable += g.values[v].constant.has_value();
  if (overridable) {
    std::printf("  (+%d initializers also listed as inputs)\n", overridable);
  }
  PrintValues("outputs", g, g.outputs, /*skip_constants=*/false);

  std::map<std::string, int> histogram;
  std::map<std::string, int> opsets;
  for (const core::Node& node : g.nodes) {
    ++histogram[OpName(node)];
    opsets[node.domain.empty() ? "ai.onnx" : node.domain] = node.opset;
  }
  std::printf("opsets:");
  for (const auto& [domain, opset] : opsets) std::printf(" %s=%d", domain.c_str(), opset);
  size_t constants = 0, constant_bytes = 0;
  for (const core::Value& v : g.values) {
    if (!v.constant) continue;
    ++constants;
    constant_bytes += v.constant->byte_size();
  }
  std::printf("\ninitializers: %zu (%.2f MiB)\n", constants,
              static_cast<double>(constant_bytes) / (1024.0 * 1024.0));
  std::printf("nodes: %zu\nops:\n", g.nodes.size());
  for (const auto& [op, count] : histogram) std::printf("  %-24s %d\n", op.c_str(), count);

  std::map<std::string, std::string> unsupported = UnsupportedOps(g);
  if (unsupported.empty()) {
    std::printf("unsupported ops: none\n");
  } else {
    std::printf("unsupported ops (%zu):\n", unsupported.size());
    for (const auto& [op, reason] : unsupported) {
      std::printf("  %-24s %s (%d nodes)\n", op.c_str(), reason.c_str(), histogram[op]);
    }
  }
  Result<Model> model = Model::Load(path, *load_options);
  if (!model.ok()) {
    std::printf("optimized plan: unavailable (%s)\n", model.status().message().c_str());
    return kExitOk;
  }
  PrintPlan(model->internal_impl());
  if (overridable) {
    // Folding turns some of them into plain constants; count what the optimized model keeps.
    const core::Graph& optimized = model->internal_impl().graph;
    int still = 0;
    for (int v : optimized.inputs) still += optimized.values[v].constant.has_value();
    std::printf("initializers the caller may still override: %d of %d\n", still, overridable);
  }
  PrintMemoryPlan(*model, parsed->All("shape"));
  return kExitOk;
}

}  // namespace accel::cli
