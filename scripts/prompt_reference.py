"""
sentence-transformers prompt references: what SentenceTransformer.encode gives on a Transformer -> Pooling ->
optional Normalize folder with prompts, for every pooling mode with include_prompt true and false, written to
tests/fixtures/models/bert-minilm/ref-prompts.safetensors (tests/prompts_test.ts reads it).

sentence-transformers itself cannot be installed here, so its semantics are applied around transformers 4.31's
BertModel (torch, float32, eval mode) on the synth-v1 checkpoint of tests/fixtures/models/bert-minilm/
config.model.json, with the bert-base-uncased fast tokenizer of tests/fixtures/tokenizer (the Rust tokenizer,
through scripts/hf_reference/standin). As sentence-transformers (SentenceTransformer.encode, Transformer.tokenize,
Pooling.forward) does it:
- the prompt is `prompt`, else prompts[prompt_name], else prompts[default_prompt_name]; "" means none;
- each text becomes prompt + text; texts are stripped (and lowercased with do_lower_case), then tokenized
  together: padding to the longest, truncation longest_first at max_seq_length;
- the prompt's length is the prompt tokenized alone the same way, less its last token when that is one of the
  tokenizer's special ids ([SEP]);
- include_prompt false zeroes the attention mask's first prompt-length positions after the model ran, before
  pooling; cls still takes token 0 (Pooling reads it without the mask);
- Pooling's modes (bert_reference.sentence_poolings, transcribed from its source) concatenate in its order,
  then Normalize scales to unit L2 norm.
One difference is kept out of the cases on purpose: Pooling's max mode writes -1e9 into the token embeddings in
place, and the cls vector is a view of those embeddings, so cls + max with include_prompt false gives -1e9 for
cls there; this library gives token 0 (see tests/prompts_test.ts).

Each case's inputs (input_ids, attention mask) are stored beside its output, and the metadata holds the cases
(folder settings, call options, texts, prompt text and prompt length) and the checkpoint's sha256.

Usage (see scripts/hf_reference/README.md for the checkouts):
  /usr/bin/python3 scripts/prompt_reference.py --transformers T/src --hub H/src --tokenizers-npm N/node_modules/tokenizers
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "hf_reference"))
sys.path.insert(0, HERE)

from bert_reference import sentence_poolings, sha256, write_safetensors  # noqa: E402
from generate import read_safetensors, setup_imports  # noqa: E402

SHAPE = os.path.join(ROOT, "tests", "fixtures", "models", "bert-minilm")
TOKENIZER = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "bert-base-uncased")
OUT = os.path.join(SHAPE, "ref-prompts.safetensors")

# Pooling's order of concatenation (as src/pipelines/sentence_transformers.ts's POOLING_MODES).
MODES = ["cls", "max", "mean", "mean_sqrt_len", "weightedmean", "lasttoken"]
PROMPTS = {
    "query": "query: ",
    "passage": "passage: ",
    "retrieval": "Represent this sentence for searching relevant passages: ",
}
DEFAULT = "query"
# Different lengths, so rows are padded; "" leaves the prompt alone.
TEXTS = [
    "A man is eating food.",
    "The quick brown fox jumps over the lazy dog near the old river bank this morning.",
    "Hi",
    "",
]


def cases():
    out = []
    for mode in MODES:
        for include in (True, False):
            for options in ({}, {"promptName": "retrieval"}):
                out.append({"modes": [mode], "include_prompt": include, "options": options})
    for include in (True, False):
        for options in ({"prompt": "Instruct: find a similar sentence\nQuery: "}, {"prompt": ""}):
            out.append({"modes": ["mean"], "include_prompt": include, "options": options})
    # Truncation: the prompt cut short too (only the final [SEP] is left to pool), and a long text cut after a
    # short prompt; without Normalize.
    for mode in ("mean", "lasttoken", "weightedmean"):
        out.append(
            {
                "modes": [mode],
                "include_prompt": False,
                "options": {"promptName": "retrieval"},
                "max_seq_length": 8,
                "normalize": False,
            }
        )
        out.append({"modes": [mode], "include_prompt": False, "options": {}, "max_seq_length": 12, "normalize": False})
    # Several modes, concatenated.
    out.append({"modes": ["cls", "mean", "lasttoken"], "include_prompt": False, "options": {}})
    for i, case in enumerate(out):
        case.setdefault("normalize", True)
        case.setdefault("max_seq_length", 512)
        case["name"] = f"case{i}"
        case["texts"] = TEXTS
    return out


def prompt_of(options):
    if "prompt" in options:
        return options["prompt"]
    return PROMPTS[options.get("promptName", DEFAULT)]


def tokenize(tokenizer, texts, max_length):
    return tokenizer(
        [t.strip() for t in texts],
        padding=True,
        truncation="longest_first",
        max_length=max_length,
        return_tensors="pt",
    )


def prompt_length(tokenizer, prompt, max_length):
    ids = tokenize(tokenizer, [prompt], max_length)["input_ids"]
    n = ids.shape[-1]
    return n - 1 if ids[0, -1].item() in tokenizer.all_special_ids else n


def run_case(torch, model, tokenizer, case):
    prompt = prompt_of(case["options"])
    texts = [prompt + t for t in case["texts"]]
    features = tokenize(tokenizer, texts, case["max_seq_length"])
    with torch.no_grad():
        tokens = model(**features).last_hidden_state
    mask = features["attention_mask"].clone()
    length = prompt_length(tokenizer, prompt, case["max_seq_length"]) if prompt else 0
    if length and not case["include_prompt"]:
        mask[:, :length] = 0
    pooled = sentence_poolings(torch, tokens, mask)
    out = torch.cat([pooled[m] for m in case["modes"]], 1)
    if case["normalize"]:
        out = torch.nn.functional.normalize(out, p=2, dim=1)
    case["prompt_text"] = prompt
    case["prompt_length"] = length
    return out, features


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--transformers", required=True, help="the src/ folder of a transformers 4.31 checkout")
    p.add_argument("--hub", required=True, help="the src/ folder of a huggingface_hub 0.16.4 checkout")
    p.add_argument("--tokenizers-npm", required=True, help="the folder of the npm tokenizers package")
    p.add_argument("--deno", default=os.path.join(ROOT, ".tools", "deno"))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        transformers = setup_imports(args, scratch)
        import torch

        torch.set_num_threads(1)
        config_path = os.path.join(SHAPE, "config.model.json")
        synth = os.path.join(ROOT, ".cache", "synth-v1", "bert-minilm-model")
        subprocess.run(
            [args.deno, "run", "--allow-read", "--allow-write", "scripts/synth.ts", config_path, synth],
            cwd=ROOT,
            check=True,
        )
        weights = os.path.join(synth, "model.safetensors")
        with open(config_path) as f:
            model = transformers.BertModel(transformers.BertConfig.from_dict(json.load(f)))
        missing, unexpected = model.load_state_dict(read_safetensors(weights), strict=False)
        if missing or unexpected:
            raise SystemExit(f"missing {missing}, unexpected {unexpected}")
        model.eval()
        tokenizer = transformers.AutoTokenizer.from_pretrained(TOKENIZER)
        tensors = {}
        all_cases = cases()
        for case in all_cases:
            out, features = run_case(torch, model, tokenizer, case)
            tensors[case["name"]] = out.numpy()
            tensors[f"{case['name']}.input_ids"] = features["input_ids"].numpy()
            tensors[f"{case['name']}.attention_mask"] = features["attention_mask"].numpy().astype("int32")
        meta = {
            "generator": "scripts/prompt_reference.py",
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "model.sha256": sha256(weights),
            "prompts": json.dumps(PROMPTS),
            "default_prompt_name": DEFAULT,
            "cases": json.dumps(all_cases),
        }
        write_safetensors(OUT, tensors, meta)
        print(f"wrote {len(all_cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
