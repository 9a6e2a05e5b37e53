"""Writes the embedded SST-2 model as a Transformers.js model folder, for bench/peers/tjs_server.ts (the naive
server a Transformers.js user writes): config.json, tokenizer.json (built from vocab.txt: the BERT normalizer,
pre-tokenizer, WordPiece model and [CLS]/[SEP] template that the fast tokenizer of this vocabulary has),
tokenizer_config.json and onnx/model.onnx, exported from transformers 4.31's DistilBertForSequenceClassification
loaded with the model's own weights, and onnx/model_quantized.onnx, its ONNX Runtime dynamic int8 form
(quantize_onnx.py), which Transformers.js loads for `dtype: "q8"`. Needs Debian's python3-torch and
python3-onnx and a transformers 4.31 source checkout (see scripts/hf_reference/README.md); writes to
bench/peers/out/ (git-ignored).

  /usr/bin/python3 bench/peers/export_tjs.py --transformers <transformers>/src --hub <huggingface_hub>/src \
      --tokenizers-npm <node_modules>/tokenizers
  /usr/bin/python3 bench/peers/export_tjs.py --plain-torch

--plain-torch exports the same model without transformers (which cannot always be checked out: PyPI is
unreachable here and its repository is too large to mirror): torch_distilbert.py's encoder, written from the
HF semantics, with DistilBertForSequenceClassification's head (pre_classifier on the [CLS] vector, ReLU,
classifier). It needs only python3-torch, python3-numpy and python3-onnx. Either way, the model's logits on
the 872 dev sentences are checked against transformers' in dev-reference.jsonl before anything is exported.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts", "hf_reference"))
import generate  # noqa: E402  (setup_imports, load_model)


def tokenizer_json(vocab, lowercase):
    ids = {t: i for i, t in enumerate(vocab)}
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    seq = lambda s, t: {"Sequence": {"id": s, "type_id": t}}  # noqa: E731
    tok = lambda s, t: {"SpecialToken": {"id": s, "type_id": t}}  # noqa: E731
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": ids[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for s in special
        ],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": lowercase},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [tok("[CLS]", 0), seq("A", 0), tok("[SEP]", 0)],
            "pair": [tok("[CLS]", 0), seq("A", 0), tok("[SEP]", 0), seq("B", 1), tok("[SEP]", 1)],
            "special_tokens": {s: {"id": s, "ids": [ids[s]], "tokens": [s]} for s in ["[CLS]", "[SEP]"]},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }


def plain_torch_model(folder):
    """DistilBertForSequenceClassification's forward -> logits, in plain torch (no transformers)."""
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, HERE)
    import torch_distilbert  # the encoder, from the HF semantics

    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    assert config["architectures"] == ["DistilBertForSequenceClassification"], config["architectures"]
    assert config.get("activation", "gelu") == "gelu" and not config.get("sinusoidal_pos_embds"), config
    # stored in float16; transformers' from_pretrained path (generate.load_model) runs it in float32
    w = {k: v.astype("float32") for k, v in
         torch_distilbert.read_safetensors(os.path.join(folder, "model.safetensors")).items()}

    class Sst2(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch_distilbert.DistilBertEncoder(config, w)
            for k in ["pre_classifier.weight", "pre_classifier.bias", "classifier.weight", "classifier.bias"]:
                setattr(self, k.replace(".", "_"),
                        torch.nn.Parameter(torch.from_numpy(w[k]), requires_grad=False))

        def forward(self, input_ids, attention_mask):
            cls = self.encoder(input_ids, attention_mask)[:, 0]
            h = F.relu(F.linear(cls, self.pre_classifier_weight, self.pre_classifier_bias))
            return F.linear(h, self.classifier_weight, self.classifier_bias)

    return Sst2().eval()


def check_dev_logits(logits_of, folder, tol=1e-4):
    """Max |logits - transformers' logits| over dev-reference.jsonl (the 872 dev sentences, batch 1)."""
    import torch

    worst = 0.0
    with open(os.path.join(folder, "dev-reference.jsonl")) as f:
        refs = [json.loads(line) for line in f if line.strip()]
    with torch.no_grad():
        for r in refs:
            ids = torch.tensor([r["input_ids"]])
            got = logits_of(ids, torch.ones_like(ids))[0].tolist()
            worst = max(worst, max(abs(a - b) for a, b in zip(got, r["logits"])))
    print(f"export_tjs: logits vs transformers' on {len(refs)} dev sentences: max abs diff {worst:.3g} "
          f"(tol {tol:g})", file=sys.stderr)
    if worst > tol:
        raise SystemExit("export_tjs: the model does not compute transformers' logits; not exported")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--transformers")
    p.add_argument("--hub")
    p.add_argument("--tokenizers-npm")
    p.add_argument("--plain-torch", action="store_true",
                   help="no transformers: torch_distilbert.py's encoder + the classification head")
    p.add_argument("--model", default=os.path.join(ROOT, "weights", "sst2-distilbert-small"))
    p.add_argument("--out", default=os.path.join(HERE, "out", "tjs-sst2"))
    args = p.parse_args()
    if not args.plain_torch and not (args.transformers and args.hub and args.tokenizers_npm):
        p.error("give --transformers, --hub and --tokenizers-npm, or --plain-torch")
    import torch

    class Logits(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).logits

    with tempfile.TemporaryDirectory() as scratch:
        if args.plain_torch:
            model = plain_torch_model(args.model)
        else:
            transformers = generate.setup_imports(args, scratch)
            model = Logits(generate.load_model(transformers, args.model, "text-classification"))
        check_dev_logits(model, args.model)
        os.makedirs(os.path.join(args.out, "onnx"), exist_ok=True)
        ids = torch.tensor([[2, 100, 200, 300, 3], [2, 400, 3, 0, 0]])
        mask = (ids != 0).long()

        with torch.no_grad():
            torch.onnx.export(
                model, (ids, mask), os.path.join(args.out, "onnx", "model.onnx"),
                input_names=["input_ids", "attention_mask"], output_names=["logits"],
                dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                              "attention_mask": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}},
                opset_version=14, do_constant_folding=True)
    onnx_dir = os.path.join(args.out, "onnx")
    subprocess.run([sys.executable, os.path.join(HERE, "quantize_onnx.py"), os.path.join(onnx_dir, "model.onnx"),
                    os.path.join(onnx_dir, "model_quantized.onnx")], check=True)
    shutil.copy(os.path.join(args.model, "config.json"), os.path.join(args.out, "config.json"))
    with open(os.path.join(args.model, "tokenizer_config.json")) as f:
        tcfg = json.load(f)
    tcfg["tokenizer_class"] = "DistilBertTokenizer"
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump(tcfg, f)
    with open(os.path.join(args.model, "vocab.txt"), encoding="utf-8") as f:
        vocab = f.read().split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, tcfg.get("do_lower_case", True)), f, ensure_ascii=False)
    print(args.out)


if __name__ == "__main__":
    main()
