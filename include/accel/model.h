// accel::Model: a loaded, validated model, immutable after loading.
//
// Thread rules: a Model is immutable. Any number of threads may use the same Model at once,
// including creating Sessions from it. Copying a Model is cheap (it shares the loaded graph
// and weights); the data stays alive while any copy or any Session created from it exists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "accel/status.h"
#include "accel/tensor.h"

namespace accel {

namespace internal {
struct ModelImpl;
}

// Name, element type and shape of a model input or output.
struct ValueInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  // -1 where a dimension is not fixed by the model. Empty with has_shape == false when even
  // the rank is unknown.
  std::vector<int64_t> dims;
  // Per dimension: the symbolic name the model gives it ("N", "batch"), or "" if none.
  std::vector<std::string> dim_names;
  bool has_shape = true;
};

// Arithmetic of the compute-heavy ops (Conv, ConvTranspose, Gemm, MatMul).
enum class Precision {
  // The default: every op computes in float32, results within float32 tolerance of the
  // reference.
  kFloat32,
  // Opt-in: those ops read their input and weights rounded to bfloat16 (8 significant bits),
  // accumulate and write float32; every other op stays float32, as do convolutions over 16 or
  // fewer input channels per group (depthwise ones, a first conv over colour channels): they
  // are memory-bound and converting would cost more than it saves. Up to about twice as fast
  // on those ops where the CPU has AVX512_BF16 (or AMX); relative output errors from 1e-3 to
  // several 1e-2 depending on the model (README). Loading is refused (Unsupported) on a CPU
  // without native bfloat16 arithmetic.
  kBFloat16,
};

struct LoadOptions {
  // Directory that external-data files are resolved against (and confined to) when loading
  // from a memory buffer. Loading from a path uses the model file's directory.
  std::string external_data_dir;

  // Weight cache file (empty = none). Packed weights are written there after the first run that
  // packs them and memory-mapped read-only by later loads, in this or another process, which
  // then skip packing and share the pages. A missing, stale, corrupt or foreign file is
  // detected, ignored and rewritten; it never changes results.
  std::string weight_cache_path;

  // Graph optimization applied at load: 0 = none (the graph runs as written), 1 = basic
  // (no-op and dead-code elimination, constant folding including shape subgraphs, BatchNorm
  // folded into the preceding Conv/ConvTranspose/Gemm/MatMul), 2 = all (level 1 plus fusions
  // into oneDNN post-ops). Results stay within fp32 tolerance of level 0. Other values are an
  // InvalidArgument error.
  int optimization_level = 2;
  // Passes to skip even when their level is enabled, by name ("constant_folding",
  // "fold_batchnorm", ...; `accel inspect` lists them). An unknown name is an InvalidArgument
  // error.
  std::vector<std::string> disabled_passes;
  // Part of the model rather than of a Session: weights are converted and packed for the
  // chosen precision, and a CPU that cannot run it is reported when loading, not later.
  Precision precision = Precision::kFloat32;
};

class Model {
 public:
  // Loads an ONNX model (.onnx). The error names the file, node and cause on failure,
  // and lists every unsupported op at once.
  static Result<Model> Load(const std::string& path, const LoadOptions& options = {});
  // Loads an ONNX model from serialized bytes; the bytes are not referenced after the call.
  static Result<Model> LoadFromBuffer(std::span<const std::byte> bytes,
                                      const LoadOptions& options = {});

  const std::vector<ValueInfo>& inputs() const;
  const std::vector<ValueInfo>& outputs() const;

  // For libaccel's own tools (inspect, tests); not a stable interface.
  const internal::ModelImpl& internal_impl() const { return *impl_; }
  static Model FromImpl(internal::ModelImpl impl);

 private:
  explicit Model(std::shared_ptr<const internal::ModelImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const internal::ModelImpl> impl_;
  friend class Session;
};

}  // namespace accel
