#!/usr/bin/python3
"""
F16 / BF16 widening reference: what torch's `.float()` gives for every one of the 65536 bit patterns of each
type (the conversion transformers applies when it loads a half-precision checkpoint into a float32 model).
Subnormals, infinities and -0 are exact; a NaN keeps its payload and comes out quiet (torch's F16 conversion
sets the quiet bit of a signalling NaN, as the hardware's conversion does).

Written: tests/fixtures/safetensors/widen_torch.safetensors with `f16` and `bf16`, I32 [65536] each: element h
holds the float32 bits of torch's `.float()` of the half whose bits are h.

Usage: /usr/bin/python3 scripts/widen_reference.py
"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "hf_reference"))

from bert_reference import write_safetensors  # noqa: E402


def main():
    bits = torch.arange(65536, dtype=torch.int32).to(torch.int16)  # wraps: the 16-bit patterns 0..65535
    out = {}
    for name, dtype in [("f16", torch.float16), ("bf16", torch.bfloat16)]:
        out[name] = bits.view(dtype).float().view(torch.int32).numpy()
    path = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "safetensors", "widen_torch.safetensors")
    write_safetensors(path, out, {"format": "pt", "torch": torch.__version__})


if __name__ == "__main__":
    main()
