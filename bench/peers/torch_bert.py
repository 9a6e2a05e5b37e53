#!/usr/bin/python3
"""BERT encoders (issue 15's shapes) in transformers 4.31's own BertModel (PyTorch), as a benchmark peer and
the source of the ONNX graphs ONNX Runtime runs.

  minilm     the all-MiniLM-L6-v2 shape: hidden 384, 6 layers, 12 heads, FFN 1536 (tests/fixtures/models/bert-minilm)
  bert-base  the bert-base shape: 768, 12 layers, 12 heads, FFN 3072 (tests/fixtures/models/bert-base)

Both with synth-v1 weights, the checkpoint our side loads: scripts/synth.ts writes it into
.cache/synth-v1/<shape>-model/ (where tests/helpers/synth_cache.ts and bench/cases.ts find it too), and its
sha256 must equal the one recorded in the shape's ref-*.safetensors. Parity: last_hidden_state (positions whose
attention_mask is 1) and pooler_output against those HF references, which tests/bert_test.ts checks ours
against, with the same tolerances (1e-5 minilm, 5e-5 bert-base); a failing model is not exported or timed.

  /usr/bin/python3 bench/peers/torch_bert.py --transformers T/src --hub H/src --tokenizers-npm N/tokenizers \
      [--models minilm,bert-base] [--export-onnx DIR] [--no-bench] [--tune]

--export-onnx DIR writes DIR/<model>.onnx (opset 14; inputs input_ids, attention_mask, token_type_ids int64
with dynamic batch and sequence; outputs last_hidden_state and pooler_output: ours computes the pooler too)
and DIR/<model>.parity.safetensors (a 2x16 sample with a padded row and token types, and torch's outputs).
Timing (without --no-bench) is torch_distilbert.py's: the same 8 cells, JSON lines on stdout; the BERT
forward there gets no token_type_ids (zeros), as ours does.
"""

import re
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts", "hf_reference"))
import torch_distilbert as common  # noqa: E402  (safetensors, timing, threads)

MODELS = os.path.join(ROOT, "tests", "fixtures", "models")
FIXTURE = {"minilm": "bert-minilm", "bert-base": "bert-base"}
PARITY_TOL = {"minilm": 1e-5, "bert-base": 5e-5}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Encoder(torch.nn.Module):
    """BertModel -> (last_hidden_state, pooler_output); token_type_ids optional (zeros), as in transformers."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.last_hidden_state, out.pooler_output


def synth_checkpoint(model, deno):
    """scripts/synth.ts's checkpoint for the shape's config.model.json (skipped when already complete)."""
    config_path = os.path.join(MODELS, FIXTURE[model], "config.model.json")
    out = os.path.join(ROOT, ".cache", "synth-v1", f"{FIXTURE[model]}-model")
    weights = os.path.join(out, "model.safetensors")
    subprocess.run([deno, "run", "--allow-read", "--allow-write", "scripts/synth.ts", config_path, out],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return config_path, weights


def refs(model):
    folder = os.path.join(MODELS, FIXTURE[model])
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder))
            if re.fullmatch(r"ref-b\d+-s\d+\.safetensors", n)]  # not ref-prompts (no inputs)


def ref_metadata(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n)).get("__metadata__", {})


def build(transformers, model, deno):
    config_path, weights = synth_checkpoint(model, deno)
    h = hashlib.sha256()
    with open(weights, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    want = ref_metadata(refs(model)[0]).get("model.sha256")
    if h.hexdigest() != want:
        raise SystemExit(f"[{model}] {weights}: sha256 {h.hexdigest()} differs from the references' {want}")
    with open(config_path) as f:
        raw = json.load(f)
    bert = transformers.BertModel(transformers.BertConfig.from_dict(raw))
    state = {k: torch.from_numpy(v) for k, v in common.read_safetensors(weights).items()}
    missing, unexpected = bert.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SystemExit(f"[{model}] missing {missing}, unexpected {unexpected}")
    log(f"[{model}] synth-v1 checkpoint {weights} (sha256 matches the references)")
    return Encoder(bert.float().eval()), raw


def parity(model, enc):
    ok = True
    for path in refs(model):
        ref = common.read_safetensors(path)
        t = {k: torch.from_numpy(ref[k].astype(np.int64)) for k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.inference_mode():
            last, pooled = enc(t["input_ids"], t["attention_mask"], t["token_type_ids"])
        layers = max(int(k.split(".")[1]) for k in ref if k.startswith("hidden_states."))
        keep = ref["attention_mask"].astype(bool)
        err = max(float(np.abs(last.numpy() - ref[f"hidden_states.{layers}"])[keep].max()),
                  float(np.abs(pooled.numpy() - ref["pooler_output"]).max()))
        good = err <= PARITY_TOL[model]
        ok &= good
        log(f"[{model}] parity {os.path.basename(path)} (last_hidden_state, pooler_output): max abs err "
            f"{err:.3g} (tol {PARITY_TOL[model]:g}) {'ok' if good else 'FAIL'}")
    return ok


def export_onnx(model, enc, config, out_dir):
    path = os.path.join(out_dir, f"{model}.onnx")
    ids, _ = common.make_inputs(config, 2, 16, 7)
    mask = torch.ones_like(ids)
    mask[1, 11:] = 0  # exercise the key mask in the parity sample
    types = torch.zeros_like(ids)
    types[:, 9:] = 1
    with torch.inference_mode():
        last, pooled = enc(ids, mask, types)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            enc, (ids, mask, types), path,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state", "pooler_output"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                          "last_hidden_state": axes, "pooler_output": {0: "batch"}},
            opset_version=14, do_constant_folding=True)
    common.write_safetensors(os.path.join(out_dir, f"{model}.parity.safetensors"),
                             {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                              "token_type_ids": types.numpy(), "last_hidden_state": last.numpy(),
                              "pooler_output": pooled.numpy()})
    import onnx

    onnx.checker.check_model(path)
    log(f"[{model}] exported {path} ({os.path.getsize(path) / 2**20:.1f} MiB, onnx.checker ok)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transformers", required=True, help="the src/ folder of a transformers 4.31 checkout")
    ap.add_argument("--hub", required=True, help="the src/ folder of a huggingface_hub 0.16.4 checkout")
    ap.add_argument("--tokenizers-npm", required=True, help="the npm tokenizers package (transformers imports it)")
    ap.add_argument("--deno", default=os.path.join(ROOT, ".tools", "deno"))
    ap.add_argument("--models", default="minilm,bert-base", help="comma list of minilm,bert-base")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tune", action="store_true", help="as torch_distilbert.py --tune")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--min-runs", type=int, default=15)
    ap.add_argument("--max-seconds", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--export-onnx", metavar="DIR", help="write DIR/<model>.onnx (+ parity samples)")
    ap.add_argument("--no-bench", action="store_true", help="parity (and export) only")
    args = ap.parse_args()
    models = args.models.split(",")
    for m in models:
        if m not in FIXTURE:
            raise SystemExit(f"--models: unknown model {m!r} (this script runs {', '.join(FIXTURE)})")

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    common.set_openblas_threads(args.threads)
    common.describe_env()
    failed = False
    with tempfile.TemporaryDirectory() as scratch:
        import generate  # scripts/hf_reference: imports transformers offline from the checkouts

        transformers = generate.setup_imports(args, scratch)
        log(f"transformers {transformers.__version__}")
        for model in models:
            enc, config = build(transformers, model, args.deno)
            if not parity(model, enc):
                log(f"[{model}] PARITY FAILED; not exporting or timing it")
                failed = True
                continue
            if args.export_onnx:
                os.makedirs(args.export_onnx, exist_ok=True)
                export_onnx(model, enc, config, args.export_onnx)
            if not args.no_bench:
                common.bench_cells(model, enc, config, args)
            del enc
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
