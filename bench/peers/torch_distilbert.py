#!/usr/bin/python3
"""DistilBERT encoder (last_hidden_state) in plain PyTorch, as a benchmark peer.

No `transformers`, no `safetensors` package, no downloads: the encoder is written from the Hugging Face
semantics in a few lines of torch; weights come from the tiny fixture's real `model.safetensors` ("small")
or are generated from the deterministic synth-v1 spec in numpy ("base"), and are checked against the
sha256 list / the HF reference outputs in tests/fixtures before anything is timed.

  /usr/bin/python3 bench/peers/torch_distilbert.py                     # parity + the 8 timing cells
  /usr/bin/python3 bench/peers/torch_distilbert.py --export-onnx DIR   # also writes DIR/{small,base}.onnx

Output: one JSON object per line on stdout, e.g.
  {"peer":"pytorch","model":"base","batch":1,"seq":32,"median_ms":21.2,"runs":200}
Everything else (parity results, environment) goes to stderr.

Needs Debian's python3-torch and python3-numpy (run it with /usr/bin/python3); --export-onnx also uses
python3-onnx when present (only to check the exported file).
"""

import re
import argparse
import ctypes
import hashlib
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = os.path.join(REPO, "tests", "fixtures", "models")
# benchmark "model" name -> fixture folder
FIXTURE = {"small": "tiny", "base": "base"}
CASES = [(1, 32), (1, 128), (8, 32), (8, 128)]
PARITY_TOL = {"small": 1e-5, "base": 5e-5}
# --tune: (torch intra-op/OpenMP threads, OpenBLAS threads) splits of the 2-thread budget
TUNE_SPLITS = [(2, 2), (1, 2), (2, 1), (1, 1)]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- safetensors (read + write, numpy only)

_DT = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "F16": np.float16,
       "U8": np.uint8, "I8": np.int8, "BOOL": np.bool_}


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        b, e = meta["data_offsets"]
        dt = np.dtype(_DT[meta["dtype"]]).newbyteorder("<")
        # copy: the data may be unaligned, and torch.from_numpy wants a writable array
        out[name] = np.frombuffer(buf, dtype=dt, count=(e - b) // dt.itemsize, offset=base + b) \
            .reshape(meta["shape"]).astype(dt.newbyteorder("="), copy=True)
    return out


def write_safetensors(path, tensors):
    rev = {np.dtype(v): k for k, v in _DT.items()}
    header, chunks, off = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": rev[arr.dtype], "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
        chunks.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for c in chunks:
            f.write(c)


# ---------------------------------------------------------------- synth-v1 weights

def fnv1a32(s):
    h = 0x811C9DC5
    for byte in s.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def synth_v1(key, shape):
    """Element i (row-major) of tensor KEY, vectorised over i; uint32 numpy arithmetic wraps mod 2^32."""
    n = int(np.prod(shape))
    x = np.arange(n, dtype=np.uint32) ^ np.uint32(fnv1a32(key))
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    u = ((x >> np.uint32(8)).astype(np.float64) + 0.5) / float(1 << 24)
    del x
    if "LayerNorm" in key or "layer_norm" in key:
        center, scale = (1.0, 0.1) if key.endswith(".weight") else (0.0, 0.1)
    elif key.endswith(".bias"):
        center, scale = 0.0, 0.02
    else:
        center, scale = 0.0, 0.02 * math.sqrt(3.0)
    return (center + scale * (2.0 * u - 1.0)).astype(np.float32).reshape(shape)


def load_weights(model):
    """HF-keyed float32 numpy tensors of the encoder (distilbert.*) only."""
    folder = os.path.join(MODELS, FIXTURE[model])
    if model == "small":
        w = read_safetensors(os.path.join(folder, "model.safetensors"))
        return {k: v for k, v in w.items() if k.startswith("distilbert.")}
    with open(os.path.join(folder, "synth-v1.mlm.sha256.json")) as f:
        spec = json.load(f)
    t0 = time.perf_counter()
    w, bad = {}, []
    for key, meta in sorted(spec.items()):
        if not key.startswith("distilbert."):
            continue
        arr = synth_v1(key, meta["shape"])
        if hashlib.sha256(arr.astype("<f4").tobytes()).hexdigest() != meta["sha256"]:
            bad.append(key)
        w[key] = arr
    if bad:
        raise SystemExit(f"synth-v1: sha256 mismatch for {len(bad)} tensors, e.g. {bad[:3]}")
    log(f"[{model}] synth-v1: {len(w)} encoder tensors generated, all sha256 match "
        f"({time.perf_counter() - t0:.1f} s)")
    return w


# ---------------------------------------------------------------- the encoder

class DistilBertEncoder(torch.nn.Module):
    """HF DistilBertModel forward -> last_hidden_state (inference only, no dropout, no head mask)."""

    def __init__(self, config, weights):
        super().__init__()
        self.dim = config["dim"]
        self.n_heads = config["n_heads"]
        self.head_dim = self.dim // self.n_heads
        self.eps = 1e-12
        p = "distilbert."

        def t(k):
            return torch.nn.Parameter(torch.from_numpy(weights[p + k]), requires_grad=False)

        self.word = t("embeddings.word_embeddings.weight")
        self.pos = t("embeddings.position_embeddings.weight")
        self.emb_ln_w = t("embeddings.LayerNorm.weight")
        self.emb_ln_b = t("embeddings.LayerNorm.bias")
        self.layers = torch.nn.ModuleList()
        for i in range(config["n_layers"]):
            layer = torch.nn.Module()
            for name in ["attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
                         "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"]:
                short = name.split(".")[-1]
                setattr(layer, short + "_w", t(f"transformer.layer.{i}.{name}.weight"))
                setattr(layer, short + "_b", t(f"transformer.layer.{i}.{name}.bias"))
            self.layers.append(layer)

    def forward(self, input_ids, attention_mask):
        bs, seq = input_ids.shape
        d, nh, dh = self.dim, self.n_heads, self.head_dim
        x = F.embedding(input_ids, self.word) + self.pos[:seq].unsqueeze(0)
        x = F.layer_norm(x, (d,), self.emb_ln_w, self.emb_ln_b, self.eps)
        # masked keys get float32's minimum (not -inf), exactly like HF's masked_fill
        key_masked = (attention_mask == 0).view(bs, 1, 1, seq)
        neg = torch.finfo(torch.float32).min
        for L in self.layers:
            q = F.linear(x, L.q_lin_w, L.q_lin_b).view(bs, seq, nh, dh).transpose(1, 2)
            k = F.linear(x, L.k_lin_w, L.k_lin_b).view(bs, seq, nh, dh).transpose(1, 2)
            v = F.linear(x, L.v_lin_w, L.v_lin_b).view(bs, seq, nh, dh).transpose(1, 2)
            q = q / math.sqrt(dh)
            scores = torch.matmul(q, k.transpose(2, 3)).masked_fill(key_masked, neg)
            ctx = torch.matmul(scores.softmax(dim=-1), v).transpose(1, 2).reshape(bs, seq, d)
            h = F.layer_norm(F.linear(ctx, L.out_lin_w, L.out_lin_b) + x, (d,),
                             L.sa_layer_norm_w, L.sa_layer_norm_b, self.eps)
            ff = F.linear(F.gelu(F.linear(h, L.lin1_w, L.lin1_b)), L.lin2_w, L.lin2_b)
            x = F.layer_norm(ff + h, (d,), L.output_layer_norm_w, L.output_layer_norm_b, self.eps)
        return x


def build(model):
    with open(os.path.join(MODELS, FIXTURE[model], "config.mlm.json")) as f:
        config = json.load(f)
    assert config.get("activation", "gelu") == "gelu" and not config.get("sinusoidal_pos_embds"), config
    enc = DistilBertEncoder(config, load_weights(model)).eval()
    return enc, config


# ---------------------------------------------------------------- parity

def parity(model, enc):
    """Max |ours - HF| over positions where attention_mask == 1, for every ref-*.safetensors fixture."""
    folder = os.path.join(MODELS, FIXTURE[model])
    worst = 0.0
    ok = True
    for name in sorted(os.listdir(folder)):
        if not re.fullmatch(r"ref-b\d+-s\d+\.safetensors", name):
            continue
        ref = read_safetensors(os.path.join(folder, name))
        with torch.inference_mode():
            out = enc(torch.from_numpy(ref["input_ids"]), torch.from_numpy(ref["attention_mask"])).numpy()
        keep = ref["attention_mask"].astype(bool)
        err = float(np.abs(out - ref["last_hidden_state"])[keep].max())
        good = err <= PARITY_TOL[model]
        ok &= good
        worst = max(worst, err)
        log(f"[{model}] parity {name}: max abs err {err:.3g} (tol {PARITY_TOL[model]:g}) "
            f"{'ok' if good else 'FAIL'}")
    return ok, worst


# ---------------------------------------------------------------- timing

def make_inputs(config, batch, seq, seed):
    rng = np.random.default_rng(seed + 1000 * batch + seq)
    ids = rng.integers(0, config["vocab_size"], size=(batch, seq), dtype=np.int64)
    return torch.from_numpy(ids), torch.ones((batch, seq), dtype=torch.int64)


def time_case(enc, config, batch, seq, args):
    ids, mask = make_inputs(config, batch, seq, args.seed)
    with torch.inference_mode():
        for _ in range(args.warmup):
            enc(ids, mask)
        times = []
        t_end = time.perf_counter() + args.max_seconds
        while len(times) < args.min_runs or (len(times) < args.runs and time.perf_counter() < t_end):
            t0 = time.perf_counter()
            enc(ids, mask)
            times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), len(times)


# ---------------------------------------------------------------- ONNX export

def export_onnx(model, enc, config, out_dir):
    path = os.path.join(out_dir, f"{model}.onnx")
    ids, _ = make_inputs(config, 2, 16, 7)
    mask = torch.ones_like(ids)
    mask[1, 11:] = 0  # exercise the key mask in the parity sample
    with torch.inference_mode():
        expected = enc(ids, mask)
    with torch.no_grad():
        torch.onnx.export(
            enc, (ids, mask), path,
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                          "attention_mask": {0: "batch", 1: "sequence"},
                          "last_hidden_state": {0: "batch", 1: "sequence"}},
            opset_version=14, do_constant_folding=True)
    # input + torch output for the ONNX Runtime peer's parity check
    write_safetensors(os.path.join(out_dir, f"{model}.parity.safetensors"),
                      {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                       "last_hidden_state": expected.numpy()})
    try:
        import onnx
        onnx.checker.check_model(path)
        m = onnx.load(path, load_external_data=False)
        log(f"[{model}] exported {path} ({os.path.getsize(path) / 2**20:.1f} MiB, opset "
            f"{m.opset_import[0].version}, {len(m.graph.node)} nodes, onnx.checker ok)")
    except ImportError:
        log(f"[{model}] exported {path} ({os.path.getsize(path) / 2**20:.1f} MiB; python3-onnx absent, "
            f"not checked)")


# ---------------------------------------------------------------- main

def describe_env():
    cfg = torch.__config__.show()
    blas = [l.strip() for l in cfg.splitlines() if "BLAS" in l or "MKLDNN" in l or "LAPACK" in l]
    log(f"torch {torch.__version__}, numpy {np.__version__}, threads {torch.get_num_threads()}/"
        f"interop {torch.get_num_interop_threads()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')!r} "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')!r} "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')!r}")
    for l in blas:
        log("  " + l)
    # Debian's torch calls sgemm through libblas.so.3 (update-alternatives; normally OpenBLAS's thin
    # wrapper over libopenblas.so.0) -- the same OpenBLAS our engine uses, so OPENBLAS_CORETYPE applies.
    libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l and l.split()[-1].startswith("/")})
    log("  BLAS libraries mapped: " + ", ".join(libs))
    for lib in libs:
        h = ctypes.CDLL(lib)
        if hasattr(h, "openblas_get_corename"):
            h.openblas_get_corename.restype = ctypes.c_char_p
            h.openblas_get_config.restype = ctypes.c_char_p
            log(f"  OpenBLAS {h.openblas_get_config().decode().strip()}; core {h.openblas_get_corename().decode()}; "
                f"threads {h.openblas_get_num_threads()}")
            break
    else:
        log("  WARNING: libblas.so.3 is not OpenBLAS (see update-alternatives --display "
            "libblas.so.3-x86_64-linux-gnu); torch's matmuls will be slow")


def set_threads(omp, blas):
    torch.set_num_threads(omp)
    set_openblas_threads(blas)


def set_openblas_threads(n):
    """torch.set_num_threads sets OpenMP only; OpenBLAS (pthread build) keeps its own pool."""
    for lib in {l.split()[-1] for l in open("/proc/self/maps") if "openblas" in l and l.split()[-1].startswith("/")}:
        h = ctypes.CDLL(lib)
        if hasattr(h, "openblas_set_num_threads"):
            h.openblas_set_num_threads(n)


def bench_cells(model, enc, config, args):
    """Times the 8 cells of MODEL and prints one JSON line each (enc(ids, mask) is one forward pass)."""
    for batch, seq in CASES:
        line = {"peer": "pytorch", "model": model, "dtype": "fp32", "batch": batch, "seq": seq}
        if args.tune:
            # torch's OpenMP pool and OpenBLAS's pthread pool both spin after work; on 2 cores they can
            # fight. Try the splits of the 2-thread budget briefly, then time the best one in full.
            trial = argparse.Namespace(**{**vars(args), "warmup": 2, "min_runs": 5, "runs": 40,
                                          "max_seconds": min(2.0, args.max_seconds)})
            scores = {}
            for omp, blas in TUNE_SPLITS:
                set_threads(omp, blas)
                scores[(omp, blas)] = time_case(enc, config, batch, seq, trial)[0]
            omp, blas = min(scores, key=scores.get)
            log(f"[{model}] {batch}x{seq} tune: " + ", ".join(
                f"omp{o}/blas{b} {ms:.3g} ms" for (o, b), ms in scores.items()) + f" -> omp{omp}/blas{blas}")
        else:
            omp, blas = args.threads, args.threads
        set_threads(omp, blas)
        med, n = time_case(enc, config, batch, seq, args)
        line.update(median_ms=round(med, 3), runs=n, torch_threads=omp, openblas_threads=blas)
        print(json.dumps(line, separators=(",", ":")), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="small,base", help="comma list of small,base")
    ap.add_argument("--threads", type=int, default=2,
                    help="torch.set_num_threads and openblas_set_num_threads (without --tune)")
    ap.add_argument("--tune", action="store_true",
                    help="per cell, use the fastest of torch/OpenBLAS thread splits %s" % (TUNE_SPLITS,))
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=200, help="max timed runs per cell")
    ap.add_argument("--min-runs", type=int, default=15, help="min timed runs per cell")
    ap.add_argument("--max-seconds", type=float, default=8.0, help="stop adding runs after this (per cell)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--export-onnx", metavar="DIR", help="write DIR/{small,base}.onnx (+ parity samples)")
    ap.add_argument("--no-bench", action="store_true", help="parity (and export) only")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    set_openblas_threads(args.threads)
    for model in args.models.split(","):
        if model not in FIXTURE:
            hint = " (BERT shapes: torch_bert.py)" if model in ("minilm", "bert-base") else ""
            raise SystemExit(f"--models: unknown model {model!r}; this script runs {', '.join(FIXTURE)}{hint}")
    describe_env()
    failed = False
    for model in args.models.split(","):
        enc, config = build(model)
        ok, worst = parity(model, enc)
        failed |= not ok
        if not ok:
            log(f"[{model}] PARITY FAILED (worst {worst:.3g}); not timing it")
            continue
        if args.export_onnx:
            os.makedirs(args.export_onnx, exist_ok=True)
            export_onnx(model, enc, config, args.export_onnx)
        if args.no_bench:
            continue
        bench_cells(model, enc, config, args)
        del enc
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
