#!/usr/bin/python3
"""
What transformers 4.31's AutoTokenizer gives for bert-base-uncased's vocab.txt with the tokenizer_config.json files
of tests/fixtures/tokenizer/special_token_flags/spec.json, whose special tokens are serialized AddedTokens
(`{"__type": "AddedToken", "lstrip": true, ...}`). config.json says model_type distilbert.

    /usr/bin/python3 scripts/special_token_flags_reference.py --transformers <transformers 4.31 checkout>/src \\
        --hub <huggingface_hub v0.16.4 checkout>/src --tokenizers-npm <node_modules>/tokenizers

transformers is imported from its source and the Rust tokenizer runs through the npm binding, as in
scripts/hf_reference/generate.py (see scripts/hf_reference/README.md). Writes
tests/fixtures/tokenizer/special_token_flags/expected.json.
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
    with open(os.path.join(fixtures, "special_token_flags", "spec.json"), encoding="utf-8") as f:
        spec = json.load(f)
    if any(ord(c) > 0x7F for text in spec["texts"] for c in text):
        raise SystemExit("the spec's texts must be ASCII")
    with open(os.path.join(fixtures, "bert-base-uncased", "vocab.txt"), encoding="utf-8") as f:
        vocab = f.read()
    with tempfile.TemporaryDirectory() as scratch:
        transformers = setup_imports(args, scratch)
        out = {}
        for name, config in spec["configs"].items():
            folder = os.path.join(scratch, name)
            os.makedirs(folder)
            with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
                f.write(vocab)
            for file, content in [("tokenizer_config.json", config), ("config.json", {"model_type": "distilbert"})]:
                with open(os.path.join(folder, file), "w", encoding="utf-8") as f:
                    json.dump(content, f)
            tok = transformers.AutoTokenizer.from_pretrained(folder)
            rows = []
            for text in spec["texts"]:
                enc = tok(text, return_offsets_mapping=True)
                rows.append(
                    {
                        "text": text,
                        "ids": enc["input_ids"],
                        "tokens": enc.tokens(),
                        "offsets": [list(o) for o in enc["offset_mapping"]],
                        "decoded": tok.decode(enc["input_ids"]),
                    }
                )
            out[name] = rows
    path = os.path.join(fixtures, "special_token_flags", "expected.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"transformers": transformers.__version__, "configs": out}, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
