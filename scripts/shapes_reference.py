#!/usr/bin/python3
"""
Unusual-shape references: tiny DistilBERT and BERT checkpoints of shapes the synth-v1 fixtures do not cover
(widths that are no multiple of 16 or 32, head sizes 1, 3, 5, 17, 33, a single head, one layer, 8 positions run
at exactly 8 tokens, a vocabulary of a few dozen tokens, BERT with type_vocab_size 1 and 3, relu), each run
through transformers 4.31's own classes (torch, float32, eval mode).

Weights are drawn from numpy's seeded generator (one seed per shape), larger than HF's initialisation so that
attention is far from uniform and every head's part shows in the output. Each shape's folder under
tests/fixtures/models/shapes/ gets:
- config.json and model.safetensors: one checkpoint holding the encoder under the family prefix and every head's
  tensors (MLM, sequence classification, QA, token classification; the two classifiers share `classifier`, and
  have the same [num_labels, dim] shape), so every head class loads from the one folder;
- ref.safetensors: for each case, the inputs (`<case>.input_ids`, `.attention_mask`, `.token_type_ids` for BERT)
  and transformers' outputs: every hidden state, BERT's pooler, and each head's logits over the whole batch.
  Its metadata holds, per case, the largest |float32 - float64| of transformers' own computation over real
  tokens (the honest float32 drift the test's tolerance must cover).

Usage (see scripts/hf_reference/README.md for the checkouts):
  /usr/bin/python3 scripts/shapes_reference.py --transformers T/src --hub H/src --tokenizers-npm N/node_modules/tokenizers
"""

import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "hf_reference"))
sys.path.insert(0, HERE)

from generate import setup_imports, source_parser  # noqa: E402
from bert_reference import write_safetensors  # noqa: E402

LABELS = {"0": "A", "1": "B"}  # two: DistilBertForQuestionAnswering refuses other num_labels

# name -> config.json. Sizes by what they exercise; comments give dim / heads = head size, FFN width.
SHAPES = {
    # 36 / 1 = 36, FFN 50; one layer; 8 positions, run at exactly 8
    "distilbert-d36-h1": {
        "model_type": "distilbert", "dim": 36, "n_heads": 1, "hidden_dim": 50, "n_layers": 1,
        "vocab_size": 30, "max_position_embeddings": 8, "activation": "gelu",
    },
    # 40 / 8 = 5, FFN 70, relu
    "distilbert-d40-h8": {
        "model_type": "distilbert", "dim": 40, "n_heads": 8, "hidden_dim": 70, "n_layers": 2,
        "vocab_size": 40, "max_position_embeddings": 16, "activation": "relu",
    },
    # 100 / 100 = 1, FFN 37
    "distilbert-d100-h100": {
        "model_type": "distilbert", "dim": 100, "n_heads": 100, "hidden_dim": 37, "n_layers": 1,
        "vocab_size": 24, "max_position_embeddings": 12, "activation": "gelu",
    },
    # 51 / 3 = 17, FFN 33
    "distilbert-d51-h3": {
        "model_type": "distilbert", "dim": 51, "n_heads": 3, "hidden_dim": 33, "n_layers": 2,
        "vocab_size": 50, "max_position_embeddings": 10, "activation": "gelu",
    },
    # 66 / 2 = 33, FFN 130
    "distilbert-d66-h2": {
        "model_type": "distilbert", "dim": 66, "n_heads": 2, "hidden_dim": 130, "n_layers": 1,
        "vocab_size": 32, "max_position_embeddings": 9, "activation": "gelu",
    },
    # 9 / 3 = 3, FFN 20
    "distilbert-d9-h3": {
        "model_type": "distilbert", "dim": 9, "n_heads": 3, "hidden_dim": 20, "n_layers": 3,
        "vocab_size": 20, "max_position_embeddings": 8, "activation": "gelu",
    },
    # 64 / 2 = 32, FFN 96: widths the packed fp32 layout takes, with an odd head count per panel
    "distilbert-d64-h2": {
        "model_type": "distilbert", "dim": 64, "n_heads": 2, "hidden_dim": 96, "n_layers": 2,
        "vocab_size": 33, "max_position_embeddings": 8, "activation": "relu",
    },
    # 8 / 2 = 4 and no hidden_dim: transformers' default FFN width is 4 * 768 = 3072 whatever dim is
    "distilbert-d8-ffn-default": {
        "model_type": "distilbert", "dim": 8, "n_heads": 2, "n_layers": 1,
        "vocab_size": 20, "max_position_embeddings": 8, "activation": "gelu",
    },
    # 48 / 4 = 12 with the head and layer counts under DistilBertConfig.attribute_map's names
    # (num_attention_heads, num_hidden_layers), which transformers reads as n_heads and n_layers
    "distilbert-d48-aliases": {
        "model_type": "distilbert", "dim": 48, "num_attention_heads": 4, "num_hidden_layers": 2,
        "hidden_dim": 60, "vocab_size": 30, "max_position_embeddings": 8, "activation": "gelu",
    },
    # BERT 36 / 4 = 9, FFN 44, one token type (token_type_ids all zeros), eps 1e-5
    "bert-d36-h4-types1": {
        "model_type": "bert", "hidden_size": 36, "num_attention_heads": 4, "intermediate_size": 44,
        "num_hidden_layers": 2, "vocab_size": 30, "max_position_embeddings": 8, "type_vocab_size": 1,
        "hidden_act": "gelu", "layer_norm_eps": 1e-5,
    },
    # BERT 40 / 5 = 8, FFN 52, three token types given, relu
    "bert-d40-h5-types3": {
        "model_type": "bert", "hidden_size": 40, "num_attention_heads": 5, "intermediate_size": 52,
        "num_hidden_layers": 1, "vocab_size": 28, "max_position_embeddings": 12, "type_vocab_size": 3,
        "hidden_act": "relu",
    },
    # BERT 96 / 3 = 32, FFN 160: packed fp32 widths
    "bert-d96-h3": {
        "model_type": "bert", "hidden_size": 96, "num_attention_heads": 3, "intermediate_size": 160,
        "num_hidden_layers": 2, "vocab_size": 26, "max_position_embeddings": 8, "type_vocab_size": 2,
        "hidden_act": "gelu",
    },
}

HEADS = {
    "distilbert": ["DistilBertModel", "DistilBertForMaskedLM", "DistilBertForSequenceClassification",
                   "DistilBertForQuestionAnswering", "DistilBertForTokenClassification"],
    "bert": ["BertModel", "BertForMaskedLM", "BertForSequenceClassification", "BertForQuestionAnswering",
             "BertForTokenClassification"],
}
# Tensors tied to others, absent from the checkpoint as in real ones.
TIED = {"vocab_projector.weight", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}


def full_config(raw):
    cfg = dict(raw)
    cfg["architectures"] = [HEADS[raw["model_type"]][1]]
    cfg["id2label"] = LABELS
    cfg["label2id"] = {v: int(k) for k, v in LABELS.items()}
    return cfg


def cases(cfg, rng):
    """name -> (ids, mask, types): a ragged batch at the longest length the positions allow, and one token."""
    import numpy as np

    S, V = cfg["max_position_embeddings"], cfg["vocab_size"]
    lengths = [S, 1, max(2, S // 3)]
    ids = rng.randint(0, V, size=(3, S)).astype(np.int64)
    mask = np.zeros((3, S), np.int64)
    types = np.zeros((3, S), np.int64)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        ids[b, n:] = 0
        # Every token type the model has, in segments (row 0: 0 then 1 then 2 ...).
        tv = cfg.get("type_vocab_size", 1)
        for s in range(n):
            types[b, s] = min(tv - 1, s * tv // n)
    one = (rng.randint(0, V, size=(1, 1)).astype(np.int64), np.ones((1, 1), np.int64), np.zeros((1, 1), np.int64))
    return {"ragged": (ids, mask, types), "one": one}


def weights(models, rng):
    """Every parameter any head has, under the head checkpoints' names, drawn once from `rng`."""
    import numpy as np

    shapes = {}
    for name, model in models.items():
        if name.endswith("Model"):
            continue  # the bare model's keys are the heads' without the prefix
        for key, p in model.named_parameters():
            if key in TIED:
                continue
            if shapes.setdefault(key, tuple(p.shape)) != tuple(p.shape):
                raise SystemExit(f"{key}: shapes differ between heads")
    out = {}
    for key in sorted(shapes):
        shape = shapes[key]
        norm = "LayerNorm" in key or "layer_norm" in key
        if norm and key.endswith(".weight"):
            v = 1 + 0.2 * rng.standard_normal(shape)
        elif key.endswith(".bias"):
            v = 0.2 * rng.standard_normal(shape)
        elif "embeddings" in key:
            v = 0.2 * rng.standard_normal(shape)  # tied to the MLM projection: logits of a few units
        else:  # a linear layer [out, in]: outputs of about unit size
            v = rng.standard_normal(shape) / np.sqrt(shape[1])
        out[key] = v.astype(np.float32)
    return out


def run_shape(transformers, torch, name, raw):
    import numpy as np

    folder = os.path.join(ROOT, "tests", "fixtures", "models", "shapes", name)
    os.makedirs(folder, exist_ok=True)
    cfg = full_config(raw)
    family = raw["model_type"]
    config_cls = transformers.DistilBertConfig if family == "distilbert" else transformers.BertConfig
    config = config_cls.from_dict(cfg)
    models = {cls: getattr(transformers, cls)(config).eval() for cls in HEADS[family]}
    rng = np.random.RandomState(sum(map(ord, name)))
    state = weights(models, rng)
    prefix = f"{family}."
    for cls, model in models.items():
        if cls.endswith("Model"):
            sd = {k[len(prefix):]: torch.from_numpy(v) for k, v in state.items() if k.startswith(prefix)}
        else:
            sd = {k: torch.from_numpy(v) for k, v in state.items()}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        if set(missing) - TIED or (cls.endswith("Model") and unexpected):
            raise SystemExit(f"{name} {cls}: missing {missing}, unexpected {unexpected}")
        if cls.endswith("MaskedLM"):
            model.tie_weights()
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(folder, "model.safetensors"), state, {"format": "pt"})

    out, meta = {}, {"generator": "scripts/shapes_reference.py", "transformers": transformers.__version__,
                     "torch": torch.__version__}
    for case, (ids, mask, types) in cases(cfg, rng).items():
        t = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
        if family == "bert":
            t["token_type_ids"] = torch.from_numpy(types)
            out[f"{case}.token_type_ids"] = types
        out[f"{case}.input_ids"] = ids
        out[f"{case}.attention_mask"] = mask.astype(np.int32)
        drift = 0.0
        real = mask.astype(bool)
        for dtype in [torch.float32, torch.float64]:
            res = {}
            with torch.no_grad():
                for cls, model in models.items():
                    model.to(dtype)
                    o = model(**t, output_hidden_states=cls.endswith("Model"))
                    if cls.endswith("Model"):
                        for i, h in enumerate(o.hidden_states):
                            res[f"hidden_states.{i}"] = (h, True)
                        if family == "bert":
                            res["pooler_output"] = (o.pooler_output, False)
                    elif cls.endswith("MaskedLM"):
                        res["mlm.logits"] = (o.logits, True)
                    elif cls.endswith("SequenceClassification"):
                        res["seqcls.logits"] = (o.logits, False)
                    elif cls.endswith("QuestionAnswering"):
                        res["qa.start_logits"] = (o.start_logits, True)
                        res["qa.end_logits"] = (o.end_logits, True)
                    else:
                        res["tokcls.logits"] = (o.logits, True)
                    model.to(torch.float32)
            if dtype == torch.float32:
                f32 = res
                for k, (v, _) in res.items():
                    out[f"{case}.{k}"] = v.numpy()
            else:
                for k, (v, per_token) in res.items():
                    d = (f32[k][0].double() - v).abs().numpy()
                    d = d[real] if per_token else d
                    drift = max(drift, float(d.max()))
        meta[f"{case}.f32_vs_f64"] = repr(drift)
        print(f"{name} {case}: float32 vs float64 {drift:.2e}")
    write_safetensors(os.path.join(folder, "ref.safetensors"), out, meta)


def write_pruned(transformers, torch, family):
    """
    A checkpoint as transformers saves a model after prune_heads: config.json's pruned_heads names the heads
    removed per layer, and that layer's attention tensors are narrower than dim (no reference outputs: the
    library refuses it).
    """
    import numpy as np

    raw = SHAPES["distilbert-d40-h8" if family == "distilbert" else "bert-d40-h5-types3"]
    cfg = full_config(raw)
    cfg["architectures"] = [HEADS[family][0]]
    cfg["pruned_heads"] = {"0": [1, 3]}
    config_cls = transformers.DistilBertConfig if family == "distilbert" else transformers.BertConfig
    model = getattr(transformers, HEADS[family][0])(config_cls.from_dict(cfg)).eval()
    rng = np.random.RandomState(7)
    state = {k: (0.1 * rng.standard_normal(tuple(p.shape))).astype(np.float32) for k, p in model.named_parameters()}
    folder = os.path.join(ROOT, "tests", "fixtures", "models", "shapes", f"{family}-pruned")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(folder, "model.safetensors"), state, {"format": "pt"})
    print(f"{family}-pruned: {sorted((k, tuple(v.shape)) for k, v in state.items() if 'layer.0.' in k)[:4]}")


def main():
    p = source_parser(__doc__)
    p.add_argument("--shapes", default=",".join(SHAPES))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        transformers = setup_imports(args, scratch)
        import torch

        torch.set_num_threads(1)
        for name in args.shapes.split(","):
            run_shape(transformers, torch, name, SHAPES[name])
        for family in ["distilbert", "bert"]:
            write_pruned(transformers, torch, family)


if __name__ == "__main__":
    main()
