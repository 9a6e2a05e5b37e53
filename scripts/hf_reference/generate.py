#!/usr/bin/python3
"""
Computes the pipeline references (tests/fixtures/pipelines/references.json) with transformers 4.31's own
`pipeline()` on PyTorch, for the cases in cases.py, on the models of models.ts.

Nothing of transformers is installed or copied: it is imported from a source checkout. The fast tokenizers run on
the Rust tokenizer through the `tokenizers` stand-in beside this file (the Python package is not installable here).

    /usr/bin/python3 scripts/hf_reference/generate.py \\
        --transformers <transformers checkout>/src --hub <huggingface_hub v0.16.4 checkout>/src \\
        --tokenizers-npm <node_modules>/tokenizers [--deno ./.tools/deno] [--out tests/fixtures/pipelines/references.json]

Needs PyTorch and numpy (Debian: python3-torch, python3-numpy), transformers' pure-Python dependencies
(python3-regex, -yaml, -filelock, -requests, -tqdm, -packaging, -fsspec), Node.js and the npm `tokenizers` package.

Every case is also run on the model converted to float64: a case whose labels, tokens, answers or order differ
between the two sits on a near-tie that float32 rounding can flip, and is reported as an error instead of written.
Offsets (`start`, `end`) are converted from Python's code-point indices to UTF-16 indices, as JavaScript strings
count them.
"""

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def source_parser(doc):
    """An argument parser taking the three sources setup_imports needs, for this and the other reference scripts."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--transformers", required=True, help="the src/ folder of a transformers 4.31 checkout")
    p.add_argument("--hub", required=True, help="the src/ folder of a huggingface_hub 0.16.4 checkout")
    p.add_argument("--tokenizers-npm", required=True, help="the folder of the npm tokenizers package")
    return p


def parse_args():
    p = source_parser(__doc__)
    p.add_argument("--deno", default=os.path.join(ROOT, ".tools", "deno"))
    p.add_argument("--models", help="model folders written by models.ts (default: written to a temporary folder)")
    p.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "pipelines", "references.json"))
    return p.parse_args()


def setup_imports(args, scratch):
    """Makes transformers, huggingface_hub and the tokenizers stand-in importable, offline."""
    os.environ.update(
        {
            "TOKENIZERS_NPM_PACKAGE": os.path.abspath(args.tokenizers_npm),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HOME": os.path.join(scratch, "hf-home"),
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    # transformers checks its dependencies' versions through their installed metadata.
    dist = os.path.join(scratch, "dist")
    for name, version in [("tokenizers", "0.13.3"), ("huggingface_hub", "0.16.4")]:
        info = os.path.join(dist, f"{name}-{version}.dist-info")
        os.makedirs(info, exist_ok=True)
        with open(os.path.join(info, "METADATA"), "w") as f:
            f.write(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    sys.path[:0] = [os.path.join(HERE, "standin"), os.path.abspath(args.hub), dist, HERE]
    from hf_import import import_transformers

    return import_transformers(args.transformers)


def read_safetensors(path):
    import numpy as np
    import torch

    dtypes = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
        out[key] = torch.from_numpy(arr.copy())
    return out


def load_model(transformers, folder, task):
    """The model as `from_pretrained` would give it (float32, eval mode), from our safetensors reader."""
    config = transformers.AutoConfig.from_pretrained(folder)
    state = read_safetensors(os.path.join(folder, "model.safetensors"))
    if task == "feature-extraction":
        model = transformers.DistilBertModel(config)
        prefix = "distilbert."
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    else:
        auto = {
            "question-answering": transformers.AutoModelForQuestionAnswering,
            "token-classification": transformers.AutoModelForTokenClassification,
            "fill-mask": transformers.AutoModelForMaskedLM,
            "text-classification": transformers.AutoModelForSequenceClassification,
        }[task]
        model = auto.from_config(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = {"vocab_projector.weight"}
    if unexpected or set(missing) - tied:
        raise SystemExit(f"{folder}: missing {missing}, unexpected {unexpected}")
    return model.float().eval()


# Our option names -> transformers' keyword arguments.
HF_OPTIONS = {
    "topK": "top_k",
    "docStride": "doc_stride",
    "maxAnswerLen": "max_answer_len",
    "maxSeqLen": "max_seq_len",
    "handleImpossibleAnswer": "handle_impossible_answer",
    "alignToWords": "align_to_words",
    "aggregationStrategy": "aggregation_strategy",
    "ignoreLabels": "ignore_labels",
    "functionToApply": "function_to_apply",
    "truncation": "truncation",
}


def hf_input(case):
    def one(x):
        if case["pipeline"] == "text-classification" and isinstance(x, dict):
            return {"text": x["text"], "text_pair": x["textPair"]}
        return x

    x = case["input"]
    return [one(i) for i in x] if isinstance(x, list) else one(x)


def utf16_index(text, index):
    """Python string index (code points) -> JavaScript string index (UTF-16 units)."""
    return index + sum(1 for ch in text[:index] if ord(ch) > 0xFFFF)


def plain(x, text=None):
    """JSON-ready output: numpy scalars to Python numbers, offsets into `text` to UTF-16 indices."""
    import numpy as np

    if isinstance(x, list):
        return [plain(v, text) for v in x]
    if isinstance(x, dict):
        return {k: (utf16_index(text, v) if k in ("start", "end") else plain(v, text)) for k, v in x.items()}
    if isinstance(x, np.generic):
        return x.item()
    return x


def output_json(case, result):
    x = case["input"]
    if case["pipeline"] == "question-answering":
        if isinstance(x, list):
            return [plain(r, i["context"]) for r, i in zip(result, x)]
        return plain(result, x["context"])
    if case["pipeline"] == "token-classification":
        if isinstance(x, list):
            return [plain(r, t) for r, t in zip(result, x)]
        return plain(result, x)
    if case["pipeline"] == "feature-extraction":
        return [round_floats(r) for r in result] if isinstance(x, list) else round_floats(result)
    return plain(result)


def round_floats(x):
    if isinstance(x, list):
        return [round_floats(v) for v in x]
    return float(f"{x:.8g}")


def same_outcome(a, b, path="output"):
    """Whether two outputs agree on everything but small score differences; returns the first difference."""
    if isinstance(a, float) or isinstance(b, float):
        ok = isinstance(a, (int, float)) and isinstance(b, (int, float))
        ok = ok and math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6)
        return None if ok else f"{path}: {a} vs {b}"
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        for i, (u, v) in enumerate(zip(a, b)):
            d = same_outcome(u, v, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            d = same_outcome(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"


def zero_score_answers(case, out):
    """transformers' QA fills top_k from zero-probability (even invalid) spans when too few valid ones exist."""
    if case["pipeline"] != "question-answering":
        return False
    answers = out if isinstance(out, list) else [out]
    flat = [a for x in answers for a in (x if isinstance(x, list) else [x])]
    return any(a["score"] == 0 and a["answer"] != "" for a in flat)


def npm_version(package):
    with open(os.path.join(package, "package.json"), encoding="utf-8") as f:
        return json.load(f)["version"]


def main():
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="hf-reference-") as scratch:
        generate(args, scratch)


def generate(args, scratch):
    transformers = setup_imports(args, scratch)
    import torch

    from cases import CASES

    torch.set_num_threads(1)
    models_dir = args.models
    if models_dir is None:
        models_dir = os.path.join(scratch, "models")
        subprocess.run(
            [args.deno, "run", "--allow-read", "--allow-write", os.path.join(HERE, "models.ts"), models_dir],
            check=True,
        )

    by_model = {}
    for i, case in enumerate(CASES):
        by_model.setdefault((case["model"], case["pipeline"]), []).append(i)

    outputs = [None] * len(CASES)
    problems = []
    for (name, task), indices in by_model.items():
        folder = os.path.join(models_dir, name)
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        model = load_model(transformers, folder, task)
        pipe = transformers.pipeline(task, model=model, tokenizer=tokenizer, framework="pt")
        run = lambda case: pipe(hf_input(case), **{HF_OPTIONS[k]: v for k, v in case["options"].items()})
        for i in indices:
            outputs[i] = output_json(CASES[i], run(CASES[i]))
            if zero_score_answers(CASES[i], outputs[i]):
                problems.append(f"case {i} ({name}): top_k exceeds the valid spans")
        if task != "feature-extraction":
            model.double()
            for i in indices:
                diff = same_outcome(outputs[i], output_json(CASES[i], run(CASES[i])))
                if diff:
                    problems.append(f"case {i} ({name}): float32 and float64 disagree at {diff}")
        print(f"{name} {task}: {len(indices)} cases", file=sys.stderr)

    if problems:
        print("\n".join(problems), file=sys.stderr)
        raise SystemExit(f"{len(problems)} fragile cases: change their inputs")
    doc = {
        "generator": "scripts/hf_reference/generate.py",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizer": f"the Rust tokenizer of npm tokenizers {npm_version(args.tokenizers_npm)} through "
        "scripts/hf_reference/standin",
        "offsets": "UTF-16",
        "cases": [{**case, "output": out} for case, out in zip(CASES, outputs)],
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(CASES)} cases to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
