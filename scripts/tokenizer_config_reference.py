#!/usr/bin/python3
"""
What transformers 4.31's AutoTokenizer gives for a tokenizer.json whose casing options disagree with the
tokenizer_config.json beside it (tests/fixtures/tokenizer/config_flags/spec.json): each case is bert-base-uncased's
tokenizer.json with the case's normalizer options and the spec's extra vocabulary, and the case's
tokenizer_config.json (config.json says model_type distilbert, for a config without tokenizer_class).

    /usr/bin/python3 scripts/tokenizer_config_reference.py --transformers <transformers 4.31 checkout>/src \\
        --hub <huggingface_hub v0.16.4 checkout>/src --tokenizers-npm <node_modules>/tokenizers

transformers is imported from its source and the Rust tokenizer runs through the npm binding, as in
scripts/hf_reference/generate.py (see scripts/hf_reference/README.md). Writes
tests/fixtures/tokenizer/config_flags/expected.json.
"""

import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts", "hf_reference"))
from generate import setup_imports, source_parser  # noqa: E402


def main():
    args = source_parser(__doc__).parse_args()
    fixtures = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
    with open(os.path.join(fixtures, "config_flags", "spec.json"), encoding="utf-8") as f:
        spec = json.load(f)
    with open(os.path.join(fixtures, "bert-base-uncased", "tokenizer.json"), encoding="utf-8") as f:
        base = json.load(f)
    n = len(base["model"]["vocab"])
    for i, token in enumerate(spec["extra_vocab"]):
        assert token not in base["model"]["vocab"], token
        base["model"]["vocab"][token] = n + i
    with tempfile.TemporaryDirectory() as scratch:
        transformers = setup_imports(args, scratch)
        out = {}
        for name, (normalizer, config) in spec["cases"].items():
            folder = os.path.join(scratch, name)
            os.makedirs(folder)
            doc = json.loads(json.dumps(base))
            doc["normalizer"].update(normalizer)
            for file, content in [
                ("tokenizer.json", doc),
                ("tokenizer_config.json", config),
                ("config.json", {"model_type": "distilbert"}),
            ]:
                with open(os.path.join(folder, file), "w", encoding="utf-8") as f:
                    json.dump(content, f, ensure_ascii=False)
            tok = transformers.AutoTokenizer.from_pretrained(folder)
            rows = []
            for text in spec["texts"]:
                enc = tok(text)
                rows.append({"text": text, "ids": enc["input_ids"], "tokens": enc.tokens()})
            out[name] = {
                "class": type(tok).__name__,
                "normalizer": json.loads(tok.backend_tokenizer.normalizer.__getstate__()),
                "rows": rows,
            }
    path = os.path.join(fixtures, "config_flags", "expected.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"transformers": transformers.__version__, "cases": out}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
