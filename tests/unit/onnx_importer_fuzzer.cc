// libFuzzer target for the ONNX importer and TensorFromProto. Not part of the CMake build (the
// unit-test glob only takes *_test.cc); build and run it by hand with clang:
//
//   S=src/core; clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined \
//     -Iinclude -Isrc -DONNX_NAMESPACE=onnx -DONNX_ML=1 tests/unit/onnx_importer_fuzzer.cc \
//     $S/onnx_importer.cc $S/onnx_tensor.cc $S/onnx_wire.cc $S/graph.cc $S/tensor.cc \
//     $S/constant_block.cc $S/mapped_file.cc \
//     $S/status.cc $S/attributes.cc src/memory/arena.cc src/memory/memory_planner.cc \
//     -lonnx_proto -lprotobuf -o /tmp/importer_fuzzer
//   mkdir -p /tmp/fuzz_ext && head -c 4096 /dev/urandom > /tmp/fuzz_ext/data.bin
//   /tmp/importer_fuzzer -max_total_time=300 -malloc_limit_mb=256 CORPUS_DIR
//
// Seed CORPUS_DIR with small .onnx models and .pb tensors (the ONNX backend node tests).
// External data resolves against /tmp/fuzz_ext so the external-data path is reachable.
#include <cstddef>
#include <cstdint>

#include "core/onnx_importer.h"
#include "core/onnx_tensor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string base_dir = "/tmp/fuzz_ext";
  accel::Result<accel::core::Graph> g = accel::core::ImportOnnx(
      {reinterpret_cast<const std::byte*>(data), size}, accel::core::OnnxImportOptions{base_dir});
  if (g.ok()) {
    // An accepted graph must only reference values that exist.
    for (const accel::core::Node& n : g->nodes) {
      for (int v : n.inputs) {
        if (v >= static_cast<int>(g->values.size())) __builtin_trap();
      }
    }
  }
  onnx::TensorProto proto;
  if (proto.ParseFromArray(data, static_cast<int>(size))) {
    accel::Result<accel::Tensor> t = accel::core::TensorFromProto(proto, base_dir);
    if (t.ok() && t->byte_size() > 0) {
      // Touch the last byte so ASan sees any undersized buffer.
      volatile char last = static_cast<const char*>(t->data())[t->byte_size() - 1];
      (void)last;
    }
  }
  return 0;
}
