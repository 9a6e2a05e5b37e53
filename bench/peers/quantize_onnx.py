#!/usr/bin/python3
"""Rewrites an fp32 ONNX graph into ONNX Runtime's dynamic int8 form, the graph that
`onnxruntime.quantization.quantize_dynamic(..., per_channel=True)` emits for MatMul (its Python tool is not
installable here, so this is written from its documented output with python3-onnx and numpy).

Every MatMul whose second input is a float32 2-D initializer W [K, N] becomes

    x_q, x_scale, x_zp = DynamicQuantizeLinear(x)           uint8, one scale per tensor (shared by the q/k/v
                                                            MatMuls of one activation, as ORT shares it)
    y_i32 = MatMulInteger(x_q, W_q, x_zp, W_zp)             W_q int8 [K, N], W_zp int8 zeros [N]
    y     = Mul(Cast<float>(y_i32), Mul(x_scale, W_scale))  W_scale float [N]

W is quantized per output channel (column n of W): symmetric, scale = max|W[:, n]| / 127 (1 when the column
is all zeros), W_q = clip(round_half_even(W / scale), -127, 127), zero point 0. The rest of the graph (the Add
of the bias, attention's activation x activation MatMuls, Gemm heads, embeddings) is left as it was, again as
quantize_dynamic leaves it for these ops. ONNX Runtime (graph optimization "all") fuses the pattern into its
DynamicQuantizeMatMul / MatMulIntegerToFloat kernels.

  /usr/bin/python3 bench/peers/quantize_onnx.py IN.onnx OUT.onnx

Checks the result with onnx.checker; prints a summary to stderr. Needs Debian's python3-onnx and numpy.
"""

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def quantize_per_column(w):
    """Symmetric int8 per column of w [K, N]: (int8 [K, N], float32 scale [N])."""
    absmax = np.abs(w).max(axis=0).astype(np.float32)
    scale = (absmax / np.float32(127.0)).astype(np.float32)
    # A column of zeros would divide by zero; ORT uses scale 1 for an empty range.
    scale[scale < np.finfo(np.float32).tiny] = 1.0
    q = np.clip(np.rint(w / scale[None, :]), -127, 127).astype(np.int8)
    return q, scale


def unique_name(taken, base):
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def quantize_model(model):
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    taken = {t.name for t in graph.initializer} | {i.name for i in graph.input} | {o.name for o in graph.output}
    for n in graph.node:
        taken.update(n.output)
        taken.update(n.input)
        if n.name:
            taken.add(n.name)

    weights = {}  # fp32 initializer name -> (q name, zp name, scale name)
    activations = {}  # activation name -> (x_q, x_scale, x_zp)
    new_nodes, new_inits = [], []
    quantized = skipped = 0
    for node in graph.node:
        b = node.input[1] if node.op_type == "MatMul" and len(node.input) == 2 else None
        t = inits.get(b) if b else None
        if node.op_type == "MatMul" and (t is None or t.data_type != TensorProto.FLOAT or len(t.dims) != 2):
            skipped += 1
        if t is None or t.data_type != TensorProto.FLOAT or len(t.dims) != 2:
            new_nodes.append(node)
            continue
        x = node.input[0]
        if b not in weights:
            q, scale = quantize_per_column(numpy_helper.to_array(t))
            names = (unique_name(taken, b + "_quantized"), unique_name(taken, b + "_zero_point"),
                     unique_name(taken, b + "_scale"))
            new_inits += [numpy_helper.from_array(q, names[0]),
                          numpy_helper.from_array(np.zeros(q.shape[1], np.int8), names[1]),
                          numpy_helper.from_array(scale, names[2])]
            weights[b] = names
        w_q, w_zp, w_scale = weights[b]
        if x not in activations:
            outs = tuple(unique_name(taken, x + s) for s in ("_quantized", "_scale", "_zero_point"))
            new_nodes.append(helper.make_node("DynamicQuantizeLinear", [x], list(outs),
                                              unique_name(taken, x + "_QuantizeLinear")))
            activations[x] = outs
        x_q, x_scale, x_zp = activations[x]
        base = node.name or node.output[0]
        y_i32 = unique_name(taken, node.output[0] + "_output_quantized")
        y_f = unique_name(taken, y_i32 + "_cast_output")
        scales = unique_name(taken, base + "_quant_scales_mul:0")
        new_nodes += [
            helper.make_node("MatMulInteger", [x_q, w_q, x_zp, w_zp], [y_i32], unique_name(taken, base + "_quant")),
            helper.make_node("Cast", [y_i32], [y_f], unique_name(taken, y_i32 + "_cast"), to=TensorProto.FLOAT),
            helper.make_node("Mul", [x_scale, w_scale], [scales], unique_name(taken, base + "_quant_scales_mul")),
            helper.make_node("Mul", [y_f, scales], [node.output[0]],
                             unique_name(taken, base + "_quant_output_scale_mul")),
        ]
        quantized += 1

    # Drop the fp32 weights nothing reads any more (a weight shared with another op stays).
    used = {i for n in new_nodes for i in n.input} | {o.name for o in graph.output}
    kept = [t for t in graph.initializer if t.name in used] + new_inits
    dropped = [t.name for t in graph.initializer if t.name not in used]
    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    gone = set(dropped)
    inputs = [i for i in graph.input if i.name not in gone]
    del graph.input[:]
    graph.input.extend(inputs)
    return {"quantized": quantized, "skipped": skipped, "weights": len(weights),
            "activations": len(activations), "dropped": len(dropped)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="fp32 .onnx")
    ap.add_argument("output", help="where to write the int8 .onnx")
    args = ap.parse_args()
    if not os.path.isfile(args.input):
        raise SystemExit(f"quantize_onnx: {args.input}: no such file")
    model = onnx.load(args.input)
    if not model.graph.node:
        raise SystemExit(f"quantize_onnx: {args.input}: the graph has no nodes")
    stats = quantize_model(model)
    if stats["quantized"] == 0:
        raise SystemExit(f"quantize_onnx: {args.input}: no MatMul with a float32 [K, N] initializer weight")
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, args.output)
    log(f"quantize_onnx: {args.input} -> {args.output}: {stats['quantized']} MatMuls quantized "
        f"({stats['weights']} weights int8 per column, {stats['activations']} DynamicQuantizeLinear), "
        f"{stats['skipped']} left fp32 (second input not a constant weight), {stats['dropped']} fp32 "
        f"initializers dropped; {os.path.getsize(args.input) / 2**20:.1f} -> "
        f"{os.path.getsize(args.output) / 2**20:.1f} MiB; onnx.checker ok")


if __name__ == "__main__":
    main()
