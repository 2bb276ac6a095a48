#!/usr/bin/python3
"""Exports randomly initialised torchvision CNNs and a small transformer encoder to ONNX.

Run with Debian's interpreter (/usr/bin/python3: torch 1.13, torchvision 0.14). For each model
it writes OUT/<name>.onnx and OUT/<name>.inputs.json, the input specification that
make_reference.py uses to draw a seeded random input (it runs in another interpreter, the one
with onnxruntime).

Weights are random but fixed by the seed. BatchNorm statistics and affine parameters are
randomised too: the default ones (mean 0, var 1, weight 1, bias 0) would make every BatchNorm an
identity, which hides bugs in how a runtime applies them.
"""

import argparse
import json
import math
import os
import sys

import torch
import torchvision

SEED = 1234
IMAGE_SHAPE = [1, 3, 224, 224]
IMAGE_CELLS = 8
PIXEL_LOW, PIXEL_HIGH, PIXEL_NOISE = -2.0, 2.4, 0.2

# name -> (torchvision constructor, opset). Opsets differ on purpose: 13 is what most exported
# models in the wild use, 17 exercises newer op versions (and HardSwish/HardSigmoid as ops).
CNNS = {
    "resnet18": (torchvision.models.resnet18, 13),
    "resnet50": (torchvision.models.resnet50, 13),
    "mobilenet_v2": (torchvision.models.mobilenet_v2, 13),
    "mobilenet_v3_small": (torchvision.models.mobilenet_v3_small, 17),
    "squeezenet1_1": (torchvision.models.squeezenet1_1, 13),
    "shufflenet_v2_x1_0": (torchvision.models.shufflenet_v2_x1_0, 13),
    "efficientnet_b0": (torchvision.models.efficientnet_b0, 17),
}

# Ops each export must contain (make_reference.py checks), so the suite keeps covering what it
# claims to cover if a torch update exports differently.
EXPECTED_OPS = {
    "resnet18": ["Conv", "MaxPool", "GlobalAveragePool", "Gemm"],
    "mobilenet_v2": ["BatchNormalization", "Clip"],
    "mobilenet_v3_small": ["HardSwish", "HardSigmoid"],
    "shufflenet_v2_x1_0": ["Transpose", "Reshape", "Slice"],
    "efficientnet_b0": ["Sigmoid", "Mul"],
    "transformer_encoder_op13": ["Gather", "MatMul", "Softmax", "ReduceMean", "Pow", "Sqrt", "Erf",
                                 "Where", "Expand", "Cast", "ReduceSum"],
    "transformer_encoder_op17": ["Gather", "MatMul", "Softmax", "LayerNormalization", "Erf",
                                 "Where", "Expand", "Cast", "ReduceSum"],
}

# The exporter folds BatchNorm into the preceding Conv; these models keep BatchNormalization
# nodes instead (exported with TrainingMode.PRESERVE from a model in eval mode).
KEEP_BATCHNORM = {"mobilenet_v2"}

# The transformer is exported twice: at opset 13 torch writes LayerNorm as the
# ReduceMean/Sub/Pow/Sqrt/Div pattern, at opset 17 as one LayerNormalization node.
TRANSFORMERS = {
    "transformer_encoder_op13": 13,
    "transformer_encoder_op17": 17,
}

VOCAB = 1000
D_MODEL = 256
HEADS = 4
LAYERS = 3
CLASSES = 10
BATCH = 2
SEQ = 16  # within the 64 learned positions
PAD_ID = 0


def random_images(n, gen):
    """Blocky images (8x8 cells of random colour plus noise) in ImageNet-normalised range.

    Pure per-pixel noise looks the same to every CNN (all inputs get the same class); images
    with structure at a coarse scale give outputs that depend on the input.
    """
    cells = torch.rand(n, 3, IMAGE_CELLS, IMAGE_CELLS, generator=gen) * (PIXEL_HIGH - PIXEL_LOW)
    cell = IMAGE_SHAPE[2] // IMAGE_CELLS
    blocky = cells.repeat_interleave(cell, 2).repeat_interleave(cell, 3) + PIXEL_LOW
    return blocky + torch.randn(blocky.shape, generator=gen) * PIXEL_NOISE


def randomize_batchnorm(model, gen):
    """Gives every BatchNorm non-trivial statistics and affine parameters.

    Statistics drawn independently of the weights (mean ~ N(0, 0.1), var ~ U(0.5, 1.5)) let the
    activations explode or vanish through 50 layers, so the output no longer depends on the
    input. Instead the statistics are measured on random images (one training-mode pass with a
    cumulative average) and then perturbed: mean += N(0, 0.1) * std, var *= U(0.75, 1.25).
    Affine parameters: weight ~ U(0.5, 1.5), bias ~ N(0, 0.1).
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for bn in bns:
            n = bn.num_features
            bn.weight.copy_(torch.rand(n, generator=gen) + 0.5)
            bn.bias.copy_(torch.randn(n, generator=gen) * 0.1)
            bn.reset_running_stats()
            bn.momentum = None
        model.train()
        model(random_images(16, gen))
        model.eval()
        for bn in bns:
            n = bn.num_features
            bn.running_mean.add_(torch.randn(n, generator=gen) * 0.1 * bn.running_var.sqrt())
            bn.running_var.mul_(torch.rand(n, generator=gen) * 0.5 + 0.75)


def calibrate_classifier(model, gen):
    """Centres and scales the last layer's outputs over random images.

    Without this the constant part of the logits dominates and every input gets the same class.
    """
    last = [m for m in model.modules()
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and m.bias is not None][-1]
    seen = []
    hook = last.register_forward_hook(lambda module, inputs, output: seen.append(output))
    with torch.no_grad():
        model(random_images(16, gen))
        hook.remove()
        out = seen[0]
        channel_mean = out.mean(dim=[d for d in range(out.dim()) if d != 1])
        last.bias.sub_(channel_mean)
        scale = 1.0 / (out.std().item() + 1e-6)
        last.weight.mul_(scale)
        last.bias.mul_(scale)


def randomize_linear_bias(model, gen):
    """PyTorch's default Linear biases are tiny; larger ones exercise bias addition."""
    for m in model.modules():
        if isinstance(m, torch.nn.Linear) and m.bias is not None:
            with torch.no_grad():
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


class TextClassifier(torch.nn.Module):
    """Token embedding + positional embedding + TransformerEncoder + masked mean pooling."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, D_MODEL)
        self.pos = torch.nn.Parameter(torch.randn(64, D_MODEL) * 0.1)
        layer = torch.nn.TransformerEncoderLayer(
            D_MODEL, HEADS, dim_feedforward=4 * D_MODEL, dropout=0.1, activation="gelu",
            batch_first=True)
        # No nested tensors: they are an eager-mode optimisation the exporter cannot trace.
        self.encoder = torch.nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
        self.head = torch.nn.Linear(D_MODEL, CLASSES)

    def forward(self, tokens, padding_mask):
        seq = tokens.shape[1]
        x = self.embed(tokens) * math.sqrt(D_MODEL) * 0.1 + self.pos[:seq]
        hidden = self.encoder(x, src_key_padding_mask=padding_mask)
        keep = (~padding_mask).unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)
        return hidden, self.head(pooled)


def image_inputs_spec(dynamic_batch):
    shape = ["batch"] + IMAGE_SHAPE[1:] if dynamic_batch else IMAGE_SHAPE
    # A symbolic batch gets a second data set with batch 2.
    data_sets = [{"batch": 1}, {"batch": 2}] if dynamic_batch else [{}]
    return {"inputs": [{"name": "input", "dtype": "float32", "shape": shape,
                        "distribution": "blocky_image", "low": PIXEL_LOW, "high": PIXEL_HIGH,
                        "cells": IMAGE_CELLS, "noise": PIXEL_NOISE}],
            "data_sets": data_sets}


def sanity_check(name, outputs):
    """Refuses degenerate models: tiny or non-finite outputs, or one class for all inputs."""
    logits = outputs[-1] if isinstance(outputs, tuple) else outputs
    std = logits.std().item()
    classes = logits.argmax(dim=-1).unique().numel()
    print(f"  {name}: logits std {std:.4g}, distinct argmax over {logits.shape[0]} inputs: "
          f"{classes}")
    if not math.isfinite(std) or std < 1e-3 or std > 1e4:
        sys.exit(f"{name}: degenerate output std {std}")
    if classes < 2:
        sys.exit(f"{name}: every input gives the same class")


def export_cnn(name, ctor, opset, out_dir, gen):
    torch.manual_seed(SEED)
    model = ctor()
    randomize_batchnorm(model, gen)
    calibrate_classifier(model, gen)
    with torch.no_grad():
        sanity_check(name, model(random_images(8, gen)))
    # One model gets a symbolic batch dimension so dynamic shapes are exercised end to end.
    dynamic_batch = name == "resnet18"
    dynamic_axes = {"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None
    path = os.path.join(out_dir, name + ".onnx")
    training = (torch.onnx.TrainingMode.PRESERVE if name in KEEP_BATCHNORM
                else torch.onnx.TrainingMode.EVAL)
    torch.onnx.export(model, torch.zeros(IMAGE_SHAPE), path, opset_version=opset,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes=dynamic_axes, do_constant_folding=True, training=training)
    return image_inputs_spec(dynamic_batch)


def padding_mask(tokens):
    return tokens == PAD_ID


def export_transformer(name, opset, out_dir, gen):
    torch.manual_seed(SEED)
    model = TextClassifier().eval()
    randomize_linear_bias(model, gen)
    tokens = torch.randint(1, VOCAB, (8, SEQ), generator=gen)
    for row in range(8):
        tokens[row, SEQ - row:] = PAD_ID  # row r has r padding tokens (row 0 none)
    with torch.no_grad():
        sanity_check(name, model(tokens, padding_mask(tokens)))
    path = os.path.join(out_dir, name + ".onnx")
    # The exporter traces; keep the gradient mode on so TransformerEncoderLayer takes its
    # composite (exportable) path rather than the fused eager-only kernel.
    example = tokens[:BATCH]
    torch.onnx.export(model, (example, padding_mask(example)), path, opset_version=opset,
                      input_names=["tokens", "padding_mask"], output_names=["hidden", "logits"],
                      dynamic_axes={"tokens": {0: "batch", 1: "seq"},
                                    "padding_mask": {0: "batch", 1: "seq"},
                                    "hidden": {0: "batch", 1: "seq"},
                                    "logits": {0: "batch"}},
                      do_constant_folding=True)
    # Token rows end in 0, 5, 10... padding tokens (always at least one real token).
    return {"inputs": [
        {"name": "tokens", "dtype": "int64", "shape": ["batch", "seq"],
         "distribution": "padded_tokens", "low": 1, "high": VOCAB, "pad_id": PAD_ID,
         "pad_step": 5},
        {"name": "padding_mask", "dtype": "bool", "shape": ["batch", "seq"],
         "distribution": "equals_pad_of", "of": "tokens", "pad_id": PAD_ID},
    ], "data_sets": [{"batch": BATCH, "seq": SEQ}, {"batch": 3, "seq": 9}]}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--models", help="comma-separated subset (default: all)")
    args = parser.parse_args()
    wanted = set(args.models.split(",")) if args.models else None
    os.makedirs(args.out_dir, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    torch.set_num_threads(2)

    names = list(CNNS) + list(TRANSFORMERS)
    if wanted and not wanted <= set(names):
        sys.exit(f"unknown models: {sorted(wanted - set(names))}; known: {names}")
    for name in names:
        if wanted and name not in wanted:
            continue
        print(f"exporting {name}", flush=True)
        gen.manual_seed(SEED)
        if name in CNNS:
            ctor, opset = CNNS[name]
            spec = export_cnn(name, ctor, opset, args.out_dir, gen)
        else:
            spec = export_transformer(name, TRANSFORMERS[name], args.out_dir, gen)
        spec["opset"] = CNNS[name][1] if name in CNNS else TRANSFORMERS[name]
        spec["expected_ops"] = EXPECTED_OPS.get(name, [])
        spec["torch"] = torch.__version__
        with open(os.path.join(args.out_dir, name + ".inputs.json"), "w") as f:
            json.dump(spec, f, indent=1)


if __name__ == "__main__":
    main()
