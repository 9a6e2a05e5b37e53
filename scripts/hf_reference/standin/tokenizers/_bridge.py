"""The Python end of the pipe to bridge.mjs (the npm binding of the Rust tokenizer)."""

import atexit
import json
import os
import subprocess

_HERE = os.path.dirname(os.path.abspath(__file__))
_process = None


def call(op, **args):
    """Sends one request to the Node bridge and returns its result (or raises its error)."""
    global _process
    if _process is None:
        package = os.environ.get("TOKENIZERS_NPM_PACKAGE")
        if not package:
            raise RuntimeError(
                "the tokenizers stand-in needs TOKENIZERS_NPM_PACKAGE: the folder of the npm 'tokenizers' package"
            )
        bridge = os.path.join(_HERE, "..", "..", "bridge.mjs")
        _process = subprocess.Popen(
            [os.environ.get("NODE", "node"), bridge, package],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        atexit.register(_close)
    _process.stdin.write(json.dumps({"op": op, **args}) + "\n")
    _process.stdin.flush()
    line = _process.stdout.readline()
    if not line:
        raise RuntimeError("the Node tokenizers bridge exited")
    answer = json.loads(line)
    if "error" in answer:
        raise Exception(answer["error"])
    return answer["result"]


def _close():
    if _process is not None and _process.poll() is None:
        _process.stdin.close()
        _process.wait(timeout=10)
