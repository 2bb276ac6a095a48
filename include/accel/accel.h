// libaccel: an embeddable inference runtime. Include this one header.
//
//   auto model = accel::Model::Load("yolox_nano.onnx");
//   if (!model.ok()) { /* model.status().ToString() says why */ }
//   auto session = accel::Session::Create(*model);
//   std::vector<accel::NamedTensor> inputs = {{"images", accel::Tensor::View(...)}};
//   auto outputs = session->Run(inputs);
#pragma once

#include "accel/model.h"
#include "accel/session.h"
#include "accel/status.h"
#include "accel/tensor.h"
