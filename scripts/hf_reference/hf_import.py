"""
Imports transformers 4.31 from a source checkout, without installing it.

The one-commit copy of 4.31.0.dev0 this project generates its references with has a few import lines commented
out (its package `__init__.py` entirely, and the `__version__` / `logging` imports of four modules, presumably to
break an import cycle in its author's set-up); nothing else in it differs from a release in those files. Those lines
are uncommented here as each module is loaded, so the checkout itself stays untouched.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys

# Module file (relative to the package) -> how to restore it.
_WHOLE_FILE = {"__init__.py"}
_IMPORT_LINES = {"configuration_utils.py", "dynamic_module_utils.py", "utils/__init__.py", "utils/hub.py"}
_IMPORT_START = re.compile(r"^# (from \S+ import |import |logger = )")


def _uncomment(text, whole):
    out = []
    in_block = False  # inside a commented-out parenthesised import
    for line in text.splitlines():
        if whole:
            out.append(line[2:] if line.startswith("# ") else ("" if line == "#" else line))
            continue
        if in_block or _IMPORT_START.match(line):
            code = line[2:]
            out.append(code)
            in_block = (in_block or code.rstrip().endswith("(")) and not code.startswith(")")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


class _Loader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname, path, root):
        super().__init__(fullname, path)
        self._rel = os.path.relpath(path, root).replace(os.sep, "/")

    def get_data(self, path):
        data = super().get_data(path)
        if path != self.path or not path.endswith(".py"):
            return data
        if self._rel in _WHOLE_FILE and b"\n# from typing import TYPE_CHECKING" in data:
            return _uncomment(data.decode("utf-8"), True).encode("utf-8")
        if self._rel in _IMPORT_LINES:
            return _uncomment(data.decode("utf-8"), False).encode("utf-8")
        return data

    def get_code(self, fullname):
        # Never read or write bytecode caches: the source is transformed.
        source = self.get_data(self.path)
        return compile(source, self.path, "exec", dont_inherit=True)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, root):
        self._root = root  # .../src/transformers

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "transformers" and not fullname.startswith("transformers."):
            return None
        search = [os.path.dirname(self._root)] if fullname == "transformers" else path
        spec = importlib.machinery.PathFinder.find_spec(fullname, search)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        spec.loader = _Loader(fullname, spec.origin, self._root)
        return spec


def import_transformers(src):
    """Imports `transformers` from `<src>/transformers` (a checkout's `src/` folder) and returns it."""
    root = os.path.join(os.path.abspath(src), "transformers")
    if not os.path.isfile(os.path.join(root, "__init__.py")):
        raise SystemExit(f"{root}/__init__.py not found: pass the src/ folder of a transformers checkout")
    sys.meta_path.insert(0, _Finder(root))
    import transformers

    return transformers
