"""Tokenizer components (normalizer, pre-tokenizer, model, post-processor, decoder) as their tokenizer.json."""

import json


class Component:
    """A component known by its tokenizer.json serialisation, as the real bindings' `__getstate__` gives it."""

    def __init__(self, state):
        self._state = state

    def __getstate__(self):
        return json.dumps(self._state)

    def __getattr__(self, name):
        state = self.__dict__.get("_state", {})
        if name in state:
            return state[name]
        raise AttributeError(name)

    @classmethod
    def from_state(cls, state):
        obj = cls.__new__(cls)
        obj._state = state
        return obj


def unsupported(kind):
    """A class transformers imports but the reference pipelines never build."""

    class Unsupported:
        def __init__(self, *args, **kwargs):
            raise NotImplementedError(f"{kind} is not part of the tokenizers stand-in")

    Unsupported.__name__ = kind
    return Unsupported
