#!/usr/bin/python3
"""
Tied weights stored twice, with different values: which one transformers 4.31's `from_pretrained` runs.

DistilBertForMaskedLM ties vocab_projector.weight to distilbert.embeddings.word_embeddings.weight (one
parameter) unless config.json sets tie_word_embeddings: false. A checkpoint that holds both keys with different
values (a hand-edited or merged state dict) is loaded key by key into that one parameter, module by module in
definition order, so the value the parameter ends with is what both the embeddings and the projection use.

The tiny MaskedLM checkpoint (tests/fixtures/models/tiny) is given a vocab_projector.weight of its own (numpy,
seeded), saved as pytorch_model.bin in a scratch folder (transformers' safetensors reader is not installed
here; both files go through the same _load_state_dict_into_model) and loaded with from_pretrained, once tied
(the config as it is) and once with tie_word_embeddings false. Written to tests/fixtures/models/tied/:
- model.safetensors: the checkpoint with both tensors;
- ref.safetensors: input_ids / attention_mask and, per case (`tied.`, `untied.`), transformers'
  last_hidden_state of the encoder and the MLM logits.

Usage (see scripts/hf_reference/README.md for the checkouts):
  /usr/bin/python3 scripts/tied_weights_reference.py --transformers T/src --hub H/src --tokenizers-npm N/node_modules/tokenizers
"""

import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "hf_reference"))
sys.path.insert(0, HERE)

from generate import read_safetensors, setup_imports, source_parser  # noqa: E402
from bert_reference import write_safetensors  # noqa: E402


def main():
    p = source_parser(__doc__)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        transformers = setup_imports(args, scratch)
        import numpy as np
        import torch

        torch.set_num_threads(1)
        tiny = os.path.join(ROOT, "tests", "fixtures", "models", "tiny")
        with open(os.path.join(tiny, "config.mlm.json")) as f:
            config = json.load(f)
        state = read_safetensors(os.path.join(tiny, "model.safetensors"))
        embeddings = state["distilbert.embeddings.word_embeddings.weight"]
        rng = np.random.default_rng(20240613)
        projector = rng.normal(0, 0.05, size=tuple(embeddings.shape)).astype(np.float32)
        state["vocab_projector.weight"] = torch.from_numpy(projector)

        out_dir = os.path.join(ROOT, "tests", "fixtures", "models", "tied")
        os.makedirs(out_dir, exist_ok=True)
        write_safetensors(
            os.path.join(out_dir, "model.safetensors"), {k: v.numpy() for k, v in state.items()}, {"format": "pt"}
        )
        shutil.copy(os.path.join(tiny, "config.mlm.json"), os.path.join(out_dir, "config.json"))

        ids = rng.integers(0, config["vocab_size"], size=(2, 12)).astype(np.int64)
        ids[:, 0], ids[:, -1] = 101 % config["vocab_size"], 102 % config["vocab_size"]
        mask = np.ones_like(ids)
        mask[1, 9:] = 0
        ref = {"input_ids": ids, "attention_mask": mask}
        for case, tie in [("tied", True), ("untied", False)]:
            folder = os.path.join(scratch, case)
            os.makedirs(folder)
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump({**config, "tie_word_embeddings": tie}, f)
            torch.save(state, os.path.join(folder, "pytorch_model.bin"))
            model = transformers.DistilBertForMaskedLM.from_pretrained(folder).float().eval()
            with torch.no_grad():
                x = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
                hidden = model.distilbert(**x).last_hidden_state
                logits = model(**x).logits
            ref[f"{case}.last_hidden_state"] = hidden.numpy()
            ref[f"{case}.logits"] = logits.numpy()
        write_safetensors(os.path.join(out_dir, "ref.safetensors"), ref, {"transformers": transformers.__version__})


if __name__ == "__main__":
    main()
