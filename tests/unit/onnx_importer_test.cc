// ONNX importer tests: models are built as onnx::ModelProto here, serialized, and imported.
// Expected values are literals written into the protos, never values computed by the importer.
#include "core/onnx_importer.h"

#include <onnx/onnx_pb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "accel/model.h"
#include "accel/session.h"
#include "core/onnx_tensor.h"
#include "onnx_test_util.h"

namespace accel::core {
namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using testing::AddNode;
using testing::Dim;
using testing::FloatTensor;
using testing::Int64Tensor;
using testing::SetTensorType;

// A model with ir_version 8 and the default domain at opset 13, and an empty graph.
onnx::ModelProto EmptyModel(int64_t opset = 13) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  onnx::OperatorSetIdProto* op = model.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  model.mutable_graph()->set_name("g");
  return model;
}

void AddInput(onnx::ModelProto& m, const std::string& name, const std::vector<Dim>& dims,
              int elem_type = onnx::TensorProto::FLOAT) {
  SetTensorType(m.mutable_graph()->add_input(), name, elem_type, dims);
}

void AddOutput(onnx::ModelProto& m, const std::string& name,
               int elem_type = onnx::TensorProto::FLOAT) {
  testing::SetElemType(m.mutable_graph()->add_output(), name, elem_type);
}

// x[N,3] -> Relu -> y
onnx::ModelProto ReluModel() {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {"N", 3});
  AddNode(m, "relu", "Relu", {"x"}, {"y"});
  AddOutput(m, "y");
  return m;
}

Result<Graph> Import(const onnx::ModelProto& m, const std::string& base_dir = "") {
  std::string bytes;
  REQUIRE(m.SerializeToString(&bytes));
  return ImportOnnx(std::as_bytes(std::span(bytes)), OnnxImportOptions{base_dir});
}

Result<Graph> ImportBytes(const std::string& bytes) {
  return ImportOnnx(std::as_bytes(std::span(bytes)), OnnxImportOptions{});
}

void RequireError(const Status& s, StatusCode code, const std::vector<std::string>& mentions) {
  INFO(s.ToString());
  REQUIRE(s.code() == code);
  for (const std::string& m : mentions) CHECK_THAT(s.message(), Contains(m));
}

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("accel_importer_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string FloatBytes(const std::vector<float>& values) {
  std::string s(values.size() * sizeof(float), '\0');
  std::memcpy(s.data(), values.data(), s.size());
  return s;
}

// A float tensor [n] stored in external file `location`.
onnx::TensorProto ExternalTensor(const std::string& name, int64_t n, const std::string& location,
                                 const std::string& offset = "", const std::string& length = "") {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(n);
  t.set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const std::string& key, const std::string& value) {
    onnx::StringStringEntryProto* e = t.add_external_data();
    e->set_key(key);
    e->set_value(value);
  };
  add("location", location);
  if (!offset.empty()) add("offset", offset);
  if (!length.empty()) add("length", length);
  return t;
}

std::string ModelDir() {
  const char* env = std::getenv("ACCEL_MODEL_DIR");
  // Without the variable, the shared model folder beside the checkout (as CI lays it out).
  return env && *env ? env : std::string(ACCEL_SOURCE_DIR) + "/../shared/models";
}

// ---------------------------------------------------------------------------------------------
// Positive cases

TEST_CASE("Importer keeps dims, dim_param names and unknown shapes", "[onnx_importer]") {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {"batch", 3, ""});
  onnx::ValueInfoProto* no_shape = m.mutable_graph()->add_input();
  no_shape->set_name("z");
  no_shape->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  AddNode(m, "n", "Relu", {"x"}, {"y"});
  AddOutput(m, "y");
  Result<Graph> g = Import(m);
  REQUIRE(g.ok());
  REQUIRE(g->inputs.size() == 2);
  const Value& x = g->values[g->inputs[0]];
  CHECK(x.name == "x");
  CHECK(x.type.dtype == DType::kFloat32);
  CHECK(x.type.has_shape);
  CHECK(x.type.dims == std::vector<int64_t>{-1, 3, -1});
  CHECK(x.type.dim_names == std::vector<std::string>{"batch", "", ""});
  const Value& z = g->values[g->inputs[1]];
  CHECK(z.type.dtype == DType::kInt64);
  CHECK_FALSE(z.type.has_shape);
  REQUIRE(g->outputs.size() == 1);
  CHECK(g->values[g->outputs[0]].name == "y");
  CHECK(g->values[g->outputs[0]].producer == 0);
}

TEST_CASE("Importer reads value_info for intermediate values", "[onnx_importer]") {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {2, 3});
  AddNode(m, "a", "Relu", {"x"}, {"t"});
  AddNode(m, "b", "Relu", {"t"}, {"y"});
  AddOutput(m, "y");
  SetTensorType(m.mutable_graph()->add_value_info(), "t", onnx::TensorProto::FLOAT, {2, "C"});
  SetTensorType(m.mutable_graph()->add_value_info(), "unused", onnx::TensorProto::FLOAT, {1});
  Result<Graph> g = Import(m);
  REQUIRE(g.ok());
  const Value& t = g->values[g->FindValue("t")];
  CHECK(t.type.dims == std::vector<int64_t>{2, -1});
  CHECK(t.type.dim_names == std::vector<std::string>{"", "C"});
  CHECK(g->FindValue("unused") == kNoValue);
}

TEST_CASE("Initializers become constants; one listed as an input stays an input",
          "[onnx_importer]") {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {4});
  AddInput(m, "shape", {2}, onnx::TensorProto::INT64);
  *m.mutable_graph()->add_initializer() = Int64Tensor("shape", {2}, {2, 2});
  *m.mutable_graph()->add_initializer() = FloatTensor("w", {2}, {1.5f, -2.0f});
  AddNode(m, "r", "Reshape", {"x", "shape"}, {"y"});
  AddNode(m, "u", "Relu", {"w"}, {"w2"});
  AddOutput(m, "y");
  AddOutput(m, "w2");
  Result<Graph> g = Import(m);
  REQUIRE(g.ok());
  REQUIRE(g->inputs.size() == 2);
  const Value& shape = g->values[g->inputs[1]];
  CHECK(shape.name == "shape");
  REQUIRE(shape.constant);
  CHECK(shape.constant->dtype() == DType::kInt64);
  CHECK(std::vector<int64_t>(shape.constant->values<int64_t>().begin(),
                             shape.constant->values<int64_t>().end()) ==
        std::vector<int64_t>{2, 2});
  const Value& w = g->values[g->FindValue("w")];
  REQUIRE(w.constant);
  CHECK(w.type.fully_known());
  CHECK(w.type.dims == std::vector<int64_t>{2});
  CHECK(w.constant->values<float>()[0] == 1.5f);
  CHECK(w.constant->values<float>()[1] == -2.0f);
  for (int v : g->inputs) CHECK(g->values[v].name != "w");
}

TEST_CASE("An initializer listed as an input can be overridden at run time", "[onnx_importer]") {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {4});
  AddInput(m, "shape", {2}, onnx::TensorProto::INT64);
  *m.mutable_graph()->add_initializer() = Int64Tensor("shape", {2}, {2, 2});
  AddNode(m, "r", "Reshape", {"x", "shape"}, {"y"});
  AddOutput(m, "y");
  std::string bytes;
  REQUIRE(m.SerializeToString(&bytes));
  Result<Model> model = Model::LoadFromBuffer(std::as_bytes(std::span(bytes)));
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  // Only x must be fed; "shape" has a default.
  REQUIRE(model->inputs().size() == 1);
  CHECK(model->inputs()[0].name == "x");
  Result<Session> session = Session::Create(*model);
  REQUIRE(session.ok());
  const std::vector<float> x = {1, 2, 3, 4};
  std::vector<NamedTensor> feeds = {{"x", Tensor::View(DType::kFloat32, {4}, x.data())}};
  Result<std::vector<NamedTensor>> by_default = session->Run(feeds);
  INFO(by_default.status().ToString());
  REQUIRE(by_default.ok());
  CHECK((*by_default)[0].tensor.shape() == Shape{2, 2});
  const std::vector<int64_t> flat = {4, 1};
  feeds.push_back({"shape", Tensor::View(DType::kInt64, {2}, flat.data())});
  Result<std::vector<NamedTensor>> overridden = session->Run(feeds);
  INFO(overridden.status().ToString());
  REQUIRE(overridden.ok());
  CHECK((*overridden)[0].tensor.shape() == Shape{4, 1});
}

TEST_CASE("Importer reads attributes of every supported type", "[onnx_importer]") {
  onnx::ModelProto m = ReluModel();
  onnx::NodeProto* n = m.mutable_graph()->mutable_node(0);
  auto add = [&](const std::string& name, onnx::AttributeProto::AttributeType type) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(type);
    return a;
  };
  add("i", onnx::AttributeProto::INT)->set_i(-7);
  add("f", onnx::AttributeProto::FLOAT)->set_f(0.25f);
  add("s", onnx::AttributeProto::STRING)->set_s(std::string("a\0b", 3));
  onnx::AttributeProto* ints = add("ints", onnx::AttributeProto::INTS);
  ints->add_ints(1);
  ints->add_ints(-2);
  onnx::AttributeProto* floats = add("floats", onnx::AttributeProto::FLOATS);
  floats->add_floats(0.5f);
  onnx::AttributeProto* strings = add("strings", onnx::AttributeProto::STRINGS);
  strings->add_strings("p");
  strings->add_strings("q");
  *add("t", onnx::AttributeProto::TENSOR)->mutable_t() = FloatTensor("", {1, 2}, {3.0f, 4.0f});
  // Old exporters leave `type` unset; the value field decides.
  onnx::AttributeProto* legacy = n->add_attribute();
  legacy->set_name("legacy");
  legacy->set_i(42);

  Result<Graph> g = Import(m);
  INFO(g.status().ToString());
  REQUIRE(g.ok());
  const Attributes& attrs = g->nodes[0].attrs;
  CHECK(*attrs.GetInt("i", 0) == -7);
  CHECK(*attrs.GetFloat("f", 0) == 0.25f);
  CHECK(*attrs.GetString("s", "") == std::string("a\0b", 3));
  CHECK(*attrs.GetInts("ints") == std::vector<int64_t>{1, -2});
  CHECK(*attrs.GetFloats("floats") == std::vector<float>{0.5f});
  CHECK(*attrs.GetStrings("strings") == std::vector<std::string>{"p", "q"});
  Result<Tensor> t = attrs.GetTensor("t");
  REQUIRE(t.ok());
  CHECK(t->shape() == Shape{1, 2});
  CHECK(t->values<float>()[1] == 4.0f);
  CHECK(*attrs.GetInt("legacy", 0) == 42);
}

TEST_CASE("Node opsets come from the opset_import of their domain", "[onnx_importer]") {
  onnx::ModelProto m = EmptyModel(30);  // newer than any known opset: decided per op later
  onnx::OperatorSetIdProto* custom = m.add_opset_import();
  custom->set_domain("com.example");
  custom->set_version(2);
  AddInput(m, "x", {1});
  AddNode(m, "a", "Relu", {"x"}, {"t"})->set_domain("ai.onnx");
  AddNode(m, "b", "MyOp", {"t", ""}, {"y", ""})->set_domain("com.example");
  AddOutput(m, "y");
  Result<Graph> g = Import(m);
  INFO(g.status().ToString());
  REQUIRE(g.ok());
  REQUIRE(g->nodes.size() == 2);
  CHECK(g->nodes[0].domain == "");
  CHECK(g->nodes[0].opset == 30);
  CHECK(g->nodes[1].domain == "com.example");
  CHECK(g->nodes[1].opset == 2);
  CHECK(g->nodes[1].inputs[1] == kNoValue);
  CHECK(g->nodes[1].outputs[1] == kNoValue);
}

TEST_CASE("Importer sorts nodes topologically", "[onnx_importer]") {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {1});
  AddNode(m, "second", "Relu", {"t"}, {"y"});
  AddNode(m, "first", "Relu", {"x"}, {"t"});
  AddOutput(m, "y");
  Result<Graph> g = Import(m);
  REQUIRE(g.ok());
  CHECK(g->nodes[0].name == "first");
  CHECK(g->nodes[1].name == "second");
}

TEST_CASE("TensorFromProto reads every dtype from its typed field", "[onnx_tensor]") {
  auto make = [](int type, int64_t n) {
    onnx::TensorProto t;
    t.set_name("t");
    t.set_data_type(type);
    t.add_dims(n);
    return t;
  };
  SECTION("int32_data holds small ints, bool and 16-bit float bit patterns") {
    onnx::TensorProto i8 = make(onnx::TensorProto::INT8, 2);
    i8.add_int32_data(-128);
    i8.add_int32_data(127);
    Result<Tensor> t = TensorFromProto(i8, "");
    REQUIRE(t.ok());
    CHECK(t->dtype() == DType::kInt8);
    CHECK(t->values<int8_t>()[0] == -128);
    CHECK(t->values<int8_t>()[1] == 127);

    onnx::TensorProto f16 = make(onnx::TensorProto::FLOAT16, 1);
    f16.add_int32_data(0x3C00);  // 1.0 in IEEE half
    t = TensorFromProto(f16, "");
    REQUIRE(t.ok());
    CHECK(t->values<uint16_t>()[0] == 0x3C00);

    onnx::TensorProto b = make(onnx::TensorProto::BOOL, 3);
    b.add_int32_data(0);
    b.add_int32_data(1);
    b.add_int32_data(1);
    t = TensorFromProto(b, "");
    REQUIRE(t.ok());
    CHECK(t->values<uint8_t>()[1] == 1);

    onnx::TensorProto u8 = make(onnx::TensorProto::UINT8, 1);
    u8.add_int32_data(255);
    t = TensorFromProto(u8, "");
    REQUIRE(t.ok());
    CHECK(t->values<uint8_t>()[0] == 255);
  }
  SECTION("int64, double, uint32 and uint64") {
    onnx::TensorProto i64 = make(onnx::TensorProto::INT64, 1);
    i64.add_int64_data(-(int64_t{1} << 40));
    Result<Tensor> t = TensorFromProto(i64, "");
    REQUIRE(t.ok());
    CHECK(t->values<int64_t>()[0] == -(int64_t{1} << 40));

    onnx::TensorProto d = make(onnx::TensorProto::DOUBLE, 1);
    d.add_double_data(0.1);
    t = TensorFromProto(d, "");
    REQUIRE(t.ok());
    CHECK(t->values<double>()[0] == 0.1);

    onnx::TensorProto u32 = make(onnx::TensorProto::UINT32, 1);
    u32.add_uint64_data(4000000000u);
    t = TensorFromProto(u32, "");
    REQUIRE(t.ok());
    CHECK(t->values<uint32_t>()[0] == 4000000000u);

    onnx::TensorProto u64 = make(onnx::TensorProto::UINT64, 1);
    u64.add_uint64_data(~uint64_t{0});
    t = TensorFromProto(u64, "");
    REQUIRE(t.ok());
    CHECK(t->values<uint64_t>()[0] == ~uint64_t{0});
  }
  SECTION("raw_data and scalars") {
    onnx::TensorProto raw;
    raw.set_name("raw");
    raw.set_data_type(onnx::TensorProto::FLOAT);
    raw.set_raw_data(FloatBytes({2.5f}));  // no dims: a scalar
    Result<Tensor> t = TensorFromProto(raw, "");
    REQUIRE(t.ok());
    CHECK(t->rank() == 0);
    CHECK(t->values<float>()[0] == 2.5f);

    onnx::TensorProto empty = make(onnx::TensorProto::FLOAT, 0);
    t = TensorFromProto(empty, "");
    REQUIRE(t.ok());
    CHECK(t->shape() == Shape{0});
  }
}

TEST_CASE("TensorFromProto rejects inconsistent sizes and types, naming the tensor",
          "[onnx_tensor]") {
  onnx::TensorProto t = FloatTensor("weights", {2, 3}, {1, 2, 3, 4, 5});
  RequireError(TensorFromProto(t, "").status(), StatusCode::kInvalidModel,
               {"'weights'", "float_data has 5 values"});

  onnx::TensorProto raw = FloatTensor("rawbad", {4}, {});
  raw.set_raw_data(FloatBytes({1, 2, 3}));
  RequireError(TensorFromProto(raw, "").status(), StatusCode::kInvalidModel,
               {"'rawbad'", "raw_data has 12 bytes"});

  onnx::TensorProto neg = FloatTensor("neg", {-1}, {});
  RequireError(TensorFromProto(neg, "").status(), StatusCode::kInvalidModel, {"'neg'"});

  onnx::TensorProto huge = FloatTensor("huge", {int64_t{1} << 40, int64_t{1} << 40}, {});
  RequireError(TensorFromProto(huge, "").status(), StatusCode::kInvalidModel, {"'huge'"});

  onnx::TensorProto str;
  str.set_name("words");
  str.set_data_type(onnx::TensorProto::STRING);
  str.add_string_data("hi");
  RequireError(TensorFromProto(str, "").status(), StatusCode::kUnsupported, {"'words'", "STRING"});

  onnx::TensorProto undefined;
  undefined.set_name("u");
  RequireError(TensorFromProto(undefined, "").status(), StatusCode::kUnsupported, {"'u'"});
}

TEST_CASE("ReadTensorFile reads a serialized TensorProto and reports the path", "[onnx_tensor]") {
  TempDir dir;
  const fs::path path = dir.path() / "input_0.pb";
  std::string bytes;
  REQUIRE(FloatTensor("x", {3}, {1, -2, 3}).SerializeToString(&bytes));
  WriteBytes(path, bytes);
  std::string name;
  Result<Tensor> t = ReadTensorFile(path.string(), &name);
  REQUIRE(t.ok());
  CHECK(name == "x");
  CHECK(t->values<float>()[1] == -2.0f);

  RequireError(ReadTensorFile((dir.path() / "missing.pb").string(), &name).status(),
               StatusCode::kNotFound, {"missing.pb"});
  WriteBytes(dir.path() / "garbage.pb", "\xff\xff\xff\xff");
  RequireError(ReadTensorFile((dir.path() / "garbage.pb").string(), &name).status(),
               StatusCode::kInvalidModel, {"garbage.pb"});
}

TEST_CASE("ReadFile reports the path and never blocks on special files", "[onnx_importer]") {
  TempDir dir;
  WriteBytes(dir.path() / "f.bin", std::string("ab\0c", 4));
  Result<std::string> bytes = ReadFile((dir.path() / "f.bin").string());
  REQUIRE(bytes.ok());
  CHECK(*bytes == std::string("ab\0c", 4));
  WriteBytes(dir.path() / "empty", "");
  Result<std::string> empty = ReadFile((dir.path() / "empty").string());
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  RequireError(ReadFile((dir.path() / "nope").string()).status(), StatusCode::kNotFound, {"nope"});
  RequireError(ReadFile(dir.path().string()).status(), StatusCode::kIoError, {dir.path().string()});
  const fs::path fifo = dir.path() / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  RequireError(ReadFile(fifo.string()).status(), StatusCode::kIoError, {"fifo"});
}

TEST_CASE("ReadTensorFile matches the protobuf bytes of a backend-test file", "[onnx_tensor]") {
  const std::string path =
      "/usr/share/libonnx-testdata/data/node/test_relu/test_data_set_0/"
      "input_0.pb";
  if (!fs::exists(path)) {
    WARN("ONNX backend test data not found; skipping");
    return;
  }
  std::string name;
  Result<Tensor> t = ReadTensorFile(path, &name);
  REQUIRE(t.ok());
  CHECK(name == "x");
  CHECK(t->shape() == Shape{3, 4, 5});
  // Independent check: protobuf's own view of the raw bytes.
  std::ifstream in(path, std::ios::binary);
  onnx::TensorProto proto;
  REQUIRE(proto.ParseFromIstream(&in));
  REQUIRE(proto.raw_data().size() == t->byte_size());
  CHECK(std::memcmp(proto.raw_data().data(), t->data(), t->byte_size()) == 0);
}

// ---------------------------------------------------------------------------------------------
// External data

TEST_CASE("External data is read from inside the base directory", "[onnx_tensor]") {
  TempDir dir;
  fs::create_directories(dir.path() / "sub");
  WriteBytes(dir.path() / "sub" / "w.bin", "pad!" + FloatBytes({1.0f, 2.0f, 3.0f}));
  Result<Tensor> t =
      TensorFromProto(ExternalTensor("w", 3, "sub/w.bin", "4", "12"), dir.path().string());
  INFO(t.status().ToString());
  REQUIRE(t.ok());
  CHECK(t->values<float>()[0] == 1.0f);
  CHECK(t->values<float>()[2] == 3.0f);

  // The same through a whole model, via the importer's base_dir.
  onnx::ModelProto m = EmptyModel();
  *m.mutable_graph()->add_initializer() = ExternalTensor("w", 3, "sub/w.bin", "4");
  AddNode(m, "n", "Relu", {"w"}, {"y"});
  AddOutput(m, "y");
  Result<Graph> g = Import(m, dir.path().string());
  INFO(g.status().ToString());
  REQUIRE(g.ok());
  CHECK(g->values[g->FindValue("w")].constant->values<float>()[1] == 2.0f);
}

TEST_CASE("External data may not leave the base directory", "[onnx_tensor]") {
  TempDir root;
  const fs::path base = root.path() / "model";
  fs::create_directories(base);
  WriteBytes(root.path() / "secret.bin", FloatBytes({7, 7}));
  WriteBytes(base / "ok.bin", FloatBytes({1, 2}));
  const std::string b = base.string();

  RequireError(
      TensorFromProto(ExternalTensor("abs", 2, (root.path() / "secret.bin").string()), b).status(),
      StatusCode::kInvalidModel, {"'abs'", "absolute"});
  RequireError(TensorFromProto(ExternalTensor("up", 2, "../secret.bin"), b).status(),
               StatusCode::kInvalidModel, {"'up'", ".."});
  RequireError(TensorFromProto(ExternalTensor("mid", 2, "x/../../secret.bin"), b).status(),
               StatusCode::kInvalidModel, {"'mid'", ".."});
  RequireError(TensorFromProto(ExternalTensor("win", 2, "..\\secret.bin"), b).status(),
               StatusCode::kInvalidModel, {"'win'"});
  fs::create_symlink(root.path() / "secret.bin", base / "link.bin");
  RequireError(TensorFromProto(ExternalTensor("link", 2, "link.bin"), b).status(),
               StatusCode::kInvalidModel, {"'link'", "outside"});
  fs::create_directory_symlink(root.path(), base / "dirlink");
  RequireError(TensorFromProto(ExternalTensor("dl", 2, "dirlink/secret.bin"), b).status(),
               StatusCode::kInvalidModel, {"'dl'", "outside"});
  // A symlink that stays inside is fine.
  fs::create_symlink(base / "ok.bin", base / "inside.bin");
  CHECK(TensorFromProto(ExternalTensor("in", 2, "inside.bin"), b).ok());

  RequireError(TensorFromProto(ExternalTensor("nobase", 2, "ok.bin"), "").status(),
               StatusCode::kInvalidArgument, {"'nobase'"});
  RequireError(TensorFromProto(ExternalTensor("missing", 2, "nope.bin"), b).status(),
               StatusCode::kNotFound, {"'missing'", "nope.bin"});
  RequireError(TensorFromProto(ExternalTensor("dir", 2, "."), b).status(),
               StatusCode::kInvalidModel, {"'dir'"});
}

TEST_CASE("External data past the end of the file is rejected", "[onnx_tensor]") {
  TempDir dir;
  WriteBytes(dir.path() / "short.bin", FloatBytes({1, 2}));  // 8 bytes
  const std::string b = dir.path().string();
  RequireError(TensorFromProto(ExternalTensor("short", 3, "short.bin"), b).status(),
               StatusCode::kInvalidModel, {"'short'", "past its end"});
  RequireError(TensorFromProto(ExternalTensor("off", 2, "short.bin", "4"), b).status(),
               StatusCode::kInvalidModel, {"'off'", "past its end"});
  RequireError(
      TensorFromProto(ExternalTensor("bigoff", 1, "short.bin", "18446744073709551615"), b).status(),
      StatusCode::kInvalidModel, {"'bigoff'"});
  RequireError(TensorFromProto(ExternalTensor("len", 2, "short.bin", "0", "4"), b).status(),
               StatusCode::kInvalidModel, {"'len'", "length 4"});
  RequireError(TensorFromProto(ExternalTensor("neg", 2, "short.bin", "-4"), b).status(),
               StatusCode::kInvalidModel, {"'neg'", "offset"});
}

// ---------------------------------------------------------------------------------------------
// Malformed models

TEST_CASE("Graph structure errors name the node and value", "[onnx_importer]") {
  SECTION("cycle") {
    onnx::ModelProto m = EmptyModel();
    AddInput(m, "x", {1});
    AddNode(m, "a", "Add", {"x", "c"}, {"b"});
    AddNode(m, "b", "Relu", {"b"}, {"c"});
    AddOutput(m, "c");
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"cycle", "node '"});
  }
  SECTION("undefined input") {
    onnx::ModelProto m = ReluModel();
    m.mutable_graph()->mutable_node(0)->set_input(0, "ghost");
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"node 'relu'", "'ghost'"});
  }
  SECTION("value produced twice") {
    onnx::ModelProto m = ReluModel();
    AddNode(m, "again", "Relu", {"x"}, {"y"});
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"'y'", "already produced"});
  }
  SECTION("node overwrites an initializer") {
    onnx::ModelProto m = ReluModel();
    *m.mutable_graph()->add_initializer() = FloatTensor("y", {1}, {0});
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"'y'", "initializer"});
  }
  SECTION("node overwrites a graph input") {
    onnx::ModelProto m = ReluModel();
    AddNode(m, "clobber", "Relu", {"y"}, {"x"});
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"node 'clobber'", "'x'"});
  }
  SECTION("graph output nothing produces") {
    onnx::ModelProto m = ReluModel();
    AddOutput(m, "nowhere");
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"'nowhere'"});
  }
  SECTION("empty op_type") {
    onnx::ModelProto m = ReluModel();
    m.mutable_graph()->mutable_node(0)->set_op_type("");
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"node 'relu'", "op_type"});
  }
  SECTION("duplicate attribute") {
    onnx::ModelProto m = ReluModel();
    for (int i = 0; i < 2; ++i) {
      onnx::AttributeProto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
      a->set_name("alpha");
      a->set_type(onnx::AttributeProto::FLOAT);
    }
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"node 'relu'", "'alpha'"});
  }
}

TEST_CASE("Initializer and input errors name the tensor", "[onnx_importer]") {
  SECTION("raw_data of the wrong size") {
    onnx::ModelProto m = ReluModel();
    onnx::TensorProto* w = m.mutable_graph()->add_initializer();
    *w = FloatTensor("w", {2, 2}, {});
    w->set_raw_data(FloatBytes({1, 2, 3}));
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"'w'", "raw_data"});
  }
  SECTION("duplicate initializer") {
    onnx::ModelProto m = ReluModel();
    *m.mutable_graph()->add_initializer() = FloatTensor("w", {1}, {1});
    *m.mutable_graph()->add_initializer() = FloatTensor("w", {1}, {2});
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"'w'", "twice"});
  }
  SECTION("empty initializer name") {
    onnx::ModelProto m = ReluModel();
    *m.mutable_graph()->add_initializer() = FloatTensor("", {1}, {1});
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"empty name"});
  }
  SECTION("initializer dtype contradicts its input declaration") {
    onnx::ModelProto m = ReluModel();
    AddInput(m, "w", {1}, onnx::TensorProto::INT64);
    *m.mutable_graph()->add_initializer() = FloatTensor("w", {1}, {1});
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"'w'", "int64"});
  }
  SECTION("sequence-typed input") {
    onnx::ModelProto m = ReluModel();
    onnx::ValueInfoProto* seq = m.mutable_graph()->add_input();
    seq->set_name("seq");
    seq->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type();
    RequireError(Import(m).status(), StatusCode::kUnsupported, {"'seq'", "sequence"});
  }
  SECTION("string-typed output") {
    onnx::ModelProto m = ReluModel();
    AddOutput(m, "words", onnx::TensorProto::STRING);
    RequireError(Import(m).status(), StatusCode::kUnsupported, {"'words'", "STRING"});
  }
  SECTION("negative dim_value") {
    onnx::ModelProto m = ReluModel();
    m.mutable_graph()
        ->mutable_input(0)
        ->mutable_type()
        ->mutable_tensor_type()
        ->mutable_shape()
        ->mutable_dim(1)
        ->set_dim_value(-3);
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"'x'", "-3"});
  }
  SECTION("duplicate graph input") {
    onnx::ModelProto m = ReluModel();
    AddInput(m, "x", {1});
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"'x'", "twice"});
  }
}

TEST_CASE("Version checks", "[onnx_importer]") {
  SECTION("an old opset imports; each op decides whether it supports its version") {
    onnx::ModelProto m = ReluModel();
    m.mutable_opset_import(0)->set_version(6);
    Result<Graph> g = Import(m);
    REQUIRE(g.ok());
    CHECK(g->nodes[0].opset == 6);
  }
  SECTION("ai.onnx is the default domain") {
    onnx::ModelProto m = ReluModel();
    m.mutable_opset_import(0)->set_domain("ai.onnx");
    Result<Graph> g = Import(m);
    REQUIRE(g.ok());
    CHECK(g->nodes[0].opset == 13);
  }
  SECTION("the same domain twice") {
    onnx::ModelProto m = ReluModel();
    onnx::OperatorSetIdProto* again = m.add_opset_import();
    again->set_domain("ai.onnx");
    again->set_version(12);
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"twice"});
  }
  SECTION("a node domain without opset_import") {
    onnx::ModelProto m = ReluModel();
    m.mutable_graph()->mutable_node(0)->set_domain("com.vendor");
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"node 'relu'", "com.vendor"});
  }
  SECTION("IR versions outside 3..newest") {
    onnx::ModelProto m = ReluModel();
    m.set_ir_version(2);
    RequireError(Import(m).status(), StatusCode::kUnsupported, {"IR version 2"});
    m.set_ir_version(1000);
    RequireError(Import(m).status(), StatusCode::kUnsupported, {"IR version 1000"});
    m.clear_ir_version();
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"ir_version"});
  }
  SECTION("no graph") {
    onnx::ModelProto m = ReluModel();
    m.clear_graph();
    RequireError(Import(m).status(), StatusCode::kInvalidModel, {"no graph"});
  }
}

TEST_CASE("Unsupported attribute kinds name the node and attribute", "[onnx_importer]") {
  onnx::ModelProto m = ReluModel();
  onnx::AttributeProto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
  SECTION("subgraph") {
    a->set_name("then_branch");
    a->set_type(onnx::AttributeProto::GRAPH);
    a->mutable_g()->set_name("sub");
    RequireError(Import(m).status(), StatusCode::kUnsupported,
                 {"node 'relu'", "'then_branch'", "subgraph"});
  }
  SECTION("subgraph without a type field") {
    a->set_name("body");
    a->mutable_g()->set_name("sub");
    RequireError(Import(m).status(), StatusCode::kUnsupported, {"node 'relu'", "'body'"});
  }
  SECTION("sparse tensor") {
    a->set_name("sp");
    a->set_type(onnx::AttributeProto::SPARSE_TENSOR);
    RequireError(Import(m).status(), StatusCode::kUnsupported, {"node 'relu'", "'sp'"});
  }
  SECTION("reference to a function attribute") {
    a->set_name("alpha");
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_ref_attr_name("outer_alpha");
    RequireError(Import(m).status(), StatusCode::kUnsupported, {"node 'relu'", "'alpha'"});
  }
  SECTION("tensor attribute with bad data") {
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    *a->mutable_t() = FloatTensor("cst", {3}, {1});
    RequireError(Import(m).status(), StatusCode::kInvalidModel,
                 {"node 'relu'", "'value'", "'cst'"});
  }
}

TEST_CASE("LoadFromBuffer lists every unsupported op", "[onnx_importer]") {
  onnx::ModelProto m = EmptyModel();
  AddInput(m, "x", {1});
  AddNode(m, "a", "FakeOpAlpha", {"x"}, {"t"});
  AddNode(m, "b", "FakeOpBeta", {"t"}, {"u"});
  AddNode(m, "c", "FakeOpAlpha", {"u"}, {"y"});
  AddOutput(m, "y");
  std::string bytes;
  REQUIRE(m.SerializeToString(&bytes));
  Result<Model> model = Model::LoadFromBuffer(std::as_bytes(std::span(bytes)));
  RequireError(model.status(), StatusCode::kUnsupported, {"FakeOpAlpha", "FakeOpBeta"});
}

TEST_CASE("Garbage and truncated bytes are errors, not crashes", "[onnx_importer]") {
  CHECK(ImportBytes("").status().code() == StatusCode::kInvalidModel);  // no ir_version
  RequireError(ImportBytes("\xff\xff\xff\xff\xff").status(), StatusCode::kInvalidModel,
               {"protobuf"});

  const std::string path = ModelDir() + "/mnist_cntk/mnist.onnx";
  if (!fs::exists(path)) {
    WARN("model " << path << " not found; skipping the truncation test");
    return;
  }
  Result<std::string> bytes = ReadFile(path);
  REQUIRE(bytes.ok());
  const size_t size = bytes->size();
  for (size_t cut : {size_t{1}, size_t{2}, size_t{16}, size_t{100}, size / 7, size / 3, size / 2,
                     size - 100, size - 9, size - 1}) {
    INFO("cut at " << cut << " of " << size);
    Result<Graph> g = ImportBytes(bytes->substr(0, cut));
    CHECK_FALSE(g.ok());
    CHECK(g.status().code() == StatusCode::kInvalidModel);
  }
  CHECK(ImportBytes(*bytes).ok());
}

TEST_CASE("Random byte flips on a small model never crash", "[onnx_importer]") {
  onnx::ModelProto m = ReluModel();
  *m.mutable_graph()->add_initializer() = FloatTensor("w", {2}, {1, 2});
  onnx::TensorProto* raw = m.mutable_graph()->add_initializer();
  raw->set_name("r");
  raw->set_data_type(onnx::TensorProto::INT64);
  raw->add_dims(2);
  raw->set_raw_data(std::string(16, '\1'));
  onnx::NodeProto* n = AddNode(m, "add", "Add", {"y", "w"}, {"z"});
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name("t");
  a->set_type(onnx::AttributeProto::TENSOR);
  *a->mutable_t() = Int64Tensor("t", {3}, {1, 2, 3});
  a = n->add_attribute();
  a->set_name("axes");
  a->set_type(onnx::AttributeProto::INTS);
  a->add_ints(0);
  AddOutput(m, "z");
  std::string original;
  REQUIRE(m.SerializeToString(&original));
  REQUIRE(ImportBytes(original).ok());

  std::mt19937 rng(1234);
  int ok = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string mutated = original;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t pos = rng() % mutated.size();
      switch (rng() % 3) {
        case 0:
          mutated[pos] = static_cast<char>(rng());
          break;
        case 1:
          mutated[pos] = static_cast<char>(mutated[pos] ^ (1 << (rng() % 8)));
          break;
        default:
          mutated.resize(pos);
          break;
      }
      if (mutated.empty()) break;
    }
    Result<Graph> g = ImportBytes(mutated);
    if (g.ok()) {
      ++ok;
      // Whatever was accepted must be internally consistent.
      for (const Node& node : g->nodes) {
        for (int v : node.inputs) REQUIRE((v == kNoValue || v < int(g->values.size())));
        for (int v : node.outputs) REQUIRE((v == kNoValue || v < int(g->values.size())));
      }
    } else {
      CHECK_FALSE(g.status().message().empty());
    }
  }
  // The mutations must exercise both paths.
  CHECK(ok > 0);
  CHECK(ok < 4000);
}

TEST_CASE("Every ONNX backend node test imports or is cleanly unsupported", "[onnx_importer]") {
  const fs::path root = "/usr/share/libonnx-testdata/data/node";
  if (!fs::exists(root)) {
    WARN("ONNX backend test data not found; skipping");
    return;
  }
  int imported = 0;
  int unsupported = 0;
  for (const fs::directory_entry& dir : fs::directory_iterator(root)) {
    const fs::path model = dir.path() / "model.onnx";
    if (!fs::exists(model)) continue;
    Result<std::string> bytes = ReadFile(model.string());
    REQUIRE(bytes.ok());
    Result<Graph> g = ImportOnnx(std::as_bytes(std::span(*bytes)), {dir.path().string()});
    INFO(model << ": " << g.status().ToString());
    // These are valid models: the only acceptable failure is a feature libaccel lacks
    // (old opsets, sequences, optionals, strings, subgraphs).
    CHECK((g.ok() || g.status().code() == StatusCode::kUnsupported));
    g.ok() ? ++imported : ++unsupported;
  }
  CHECK(imported > 800);
  CHECK(unsupported < 100);
}

// ---------------------------------------------------------------------------------------------
// Real models

TEST_CASE("The four real models import", "[onnx_importer][models]") {
  struct Expected {
    std::string file;
    std::string input;
    std::vector<int64_t> dims;
  };
  const std::vector<Expected> models = {
      {"yolox_nano/yolox_nano.onnx", "images", {1, 3, 416, 416}},
      {"ultraface_rfb320/version-RFB-320.onnx", "input", {1, 3, 240, 320}},
      {"fastestdet/FastestDet.onnx", "input.1", {1, 3, 352, 352}},
      {"mnist_cntk/mnist.onnx", "Input3", {1, 1, 28, 28}},
  };
  for (const Expected& e : models) {
    const fs::path path = fs::path(ModelDir()) / e.file;
    if (!fs::exists(path)) {
      WARN("model " << path << " not found (set ACCEL_MODEL_DIR); skipping");
      continue;
    }
    INFO(path);
    Result<std::string> bytes = ReadFile(path.string());
    REQUIRE(bytes.ok());
    Result<Graph> g = ImportOnnx(std::as_bytes(std::span(*bytes)), {path.parent_path().string()});
    INFO(g.status().ToString());
    REQUIRE(g.ok());
    CHECK(g->nodes.size() > 5);
    // The caller-fed input: the one graph input without an initializer.
    std::vector<std::string> fed;
    for (int v : g->inputs) {
      if (!g->values[v].constant) fed.push_back(g->values[v].name);
    }
    REQUIRE(fed == std::vector<std::string>{e.input});
    const Value& in = g->values[g->FindValue(e.input)];
    CHECK(in.type.dtype == DType::kFloat32);
    CHECK(in.type.dims == e.dims);
    for (int v : g->outputs) CHECK(g->values[v].producer != kNoValue);
  }
}

}  // namespace
}  // namespace accel::core
