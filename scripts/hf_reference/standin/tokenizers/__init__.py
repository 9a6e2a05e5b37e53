"""
A stand-in for the Python `tokenizers` package (0.13, what transformers 4.31 runs on), for generating reference
outputs where that package cannot be installed: every tokenization, decode and encoding look-up is done by the
Rust tokenizer itself, through its npm binding (bridge.mjs); this module only carries the calls and holds the
tokenizer.json. It covers what transformers' fast BERT tokenizers and its pipelines use, and raises
NotImplementedError for the rest.
"""

import json
import operator

from . import _bridge, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: F401
from ._component import Component

__version__ = "0.13.3"

_STRATEGIES = {"LongestFirst": "longest_first", "OnlyFirst": "only_first", "OnlySecond": "only_second"}


class Regex:
    def __init__(self, pattern):
        self.pattern = pattern


class AddedToken:
    def __init__(self, content="", single_word=False, lstrip=False, rstrip=False, normalized=None, special=False):
        self.content = content
        self.single_word = single_word
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special

    def __str__(self):
        return self.content

    def __repr__(self):
        return f"AddedToken({self.content!r})"

    def __getstate__(self):
        return dict(self.__dict__)

    def __setstate__(self, state):
        self.__dict__.update(state)

    def _spec(self):
        return {
            "content": self.content,
            "single_word": self.single_word,
            "lstrip": self.lstrip,
            "rstrip": self.rstrip,
            "normalized": self.normalized,
        }


def _token_spec(token):
    if isinstance(token, AddedToken):
        return token._spec()
    return AddedToken(str(token))._spec()


class Encoding:
    """One encoded row, as tokenizers.Encoding: the arrays are copied over, the look-ups run in Rust."""

    def __init__(self, described):
        self._handle = described["handle"]
        self.ids = described["ids"]
        self.type_ids = described["type_ids"]
        self.tokens = described["tokens"]
        self.offsets = [tuple(o) for o in described["offsets"]]
        self.attention_mask = described["attention_mask"]
        self.special_tokens_mask = described["special_tokens_mask"]
        self.word_ids = described["word_ids"]
        self.sequence_ids = described["sequence_ids"]
        self.n_sequences = described["n_sequences"]
        self.overflowing = [Encoding(o) for o in described["overflowing"]]

    @property
    def words(self):
        return self.word_ids

    def __len__(self):
        return len(self.ids)

    def _call(self, method, *args):
        # As the binding's integer arguments: anything with __index__ (numpy integers too), never None.
        args = [operator.index(a) for a in args]
        result = _bridge.call("encoding", handle=self._handle, method=method, args=args)
        return tuple(result) if isinstance(result, list) else result

    def token_to_word(self, token_index):
        return self._call("token_to_word", token_index)

    def token_to_sequence(self, token_index):
        return self._call("token_to_sequence", token_index)

    def token_to_chars(self, token_index):
        return self._call("token_to_chars", token_index)

    def word_to_tokens(self, word_index, sequence_index=0):
        return self._call("word_to_tokens", word_index, sequence_index)

    def word_to_chars(self, word_index, sequence_index=0):
        return self._call("word_to_chars", word_index, sequence_index)

    def char_to_token(self, char_pos, sequence_index=0):
        return self._call("char_to_token", char_pos, sequence_index)

    def char_to_word(self, char_pos, sequence_index=0):
        return self._call("char_to_word", char_pos, sequence_index)


class Tokenizer:
    """tokenizers.Tokenizer over a tokenizer.json document, built in the Rust binding when first used."""

    def __init__(self, model):
        self._doc = {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [],
            "normalizer": None,
            "pre_tokenizer": None,
            "post_processor": None,
            "decoder": None,
            "model": model._state,
        }
        self._added = []  # (token specs, special), replayed whenever the Rust tokenizer is rebuilt
        self._handle = None
        self._truncation = None
        self._padding = None

    @staticmethod
    def from_str(text):
        doc = json.loads(text)
        tok = Tokenizer(models.Model.from_state(doc["model"]))
        tok._doc = doc
        trunc, pad = doc.get("truncation"), doc.get("padding")
        doc["truncation"] = doc["padding"] = None
        if trunc:
            tok.enable_truncation(
                trunc["max_length"],
                trunc.get("stride", 0),
                _STRATEGIES[trunc.get("strategy", "LongestFirst")],
                trunc.get("direction", "Right").lower(),
            )
        if pad:
            strategy = pad.get("strategy", "BatchLongest")
            tok.enable_padding(
                direction=pad.get("direction", "Right").lower(),
                pad_id=pad.get("pad_id", 0),
                pad_type_id=pad.get("pad_type_id", 0),
                pad_token=pad.get("pad_token", "[PAD]"),
                length=strategy["Fixed"] if isinstance(strategy, dict) else None,
                pad_to_multiple_of=pad.get("pad_to_multiple_of"),
            )
        return tok

    @staticmethod
    def from_file(path):
        with open(path, encoding="utf-8") as f:
            return Tokenizer.from_str(f.read())

    def to_str(self, pretty=False):
        return json.dumps(self._doc, indent=2 if pretty else None, ensure_ascii=False)

    def save(self, path, pretty=True):
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_str(pretty))

    def _h(self):
        if self._handle is None:
            self._handle = _bridge.call("load", json=json.dumps(self._doc))
            for specs, special in self._added:
                _bridge.call("add_tokens", handle=self._handle, tokens=specs, special=special)
        return self._handle

    def _component(self, key, cls):
        state = self._doc.get(key)
        return None if state is None else cls.from_state(state)

    def _set(self, key, value):
        self._doc[key] = None if value is None else value._state
        self._handle = None

    normalizer = property(
        lambda self: self._component("normalizer", normalizers.Normalizer),
        lambda self, v: self._set("normalizer", v),
    )
    pre_tokenizer = property(
        lambda self: self._component("pre_tokenizer", pre_tokenizers.PreTokenizer),
        lambda self, v: self._set("pre_tokenizer", v),
    )
    post_processor = property(
        lambda self: self._component("post_processor", processors.PostProcessor),
        lambda self, v: self._set("post_processor", v),
    )
    decoder = property(
        lambda self: self._component("decoder", decoders.Decoder),
        lambda self, v: self._set("decoder", v),
    )
    model = property(lambda self: self._component("model", models.Model), lambda self, v: self._set("model", v))

    # Truncation and padding, as the Python binding reports and takes them.

    @property
    def truncation(self):
        return None if self._truncation is None else dict(self._truncation)

    @property
    def padding(self):
        return None if self._padding is None else dict(self._padding)

    def enable_truncation(self, max_length, stride=0, strategy="longest_first", direction="right"):
        if strategy not in _STRATEGIES.values():
            raise ValueError(f"unknown truncation strategy {strategy}")
        if direction != "right":
            raise NotImplementedError("the stand-in truncates on the right only")
        self._truncation = {"max_length": max_length, "stride": stride, "strategy": strategy, "direction": direction}

    def no_truncation(self):
        self._truncation = None

    def enable_padding(
        self, direction="right", pad_id=0, pad_type_id=0, pad_token="[PAD]", length=None, pad_to_multiple_of=None
    ):
        self._padding = {
            "length": length,
            "pad_to_multiple_of": pad_to_multiple_of,
            "pad_id": pad_id,
            "pad_token": pad_token,
            "pad_type_id": pad_type_id,
            "direction": direction,
        }

    def no_padding(self):
        self._padding = None

    # Encoding and decoding

    def encode_batch(self, input, is_pretokenized=False, add_special_tokens=True):
        if is_pretokenized:
            raise NotImplementedError("the stand-in takes text, not pre-tokenized input")
        pairs = []
        for item in input:
            if isinstance(item, str):
                pairs.append([item, None])
            elif isinstance(item, (tuple, list)) and len(item) == 2:
                pairs.append([item[0], item[1]])
            else:
                raise TypeError(f"cannot encode {type(item).__name__}")
        described = _bridge.call(
            "encode_batch",
            handle=self._h(),
            inputs=pairs,
            add_special_tokens=add_special_tokens,
            truncation=self._truncation,
            padding=self._padding,
        )
        return [Encoding(d) for d in described]

    def encode(self, sequence, pair=None, is_pretokenized=False, add_special_tokens=True):
        item = sequence if pair is None else (sequence, pair)
        return self.encode_batch([item], is_pretokenized, add_special_tokens)[0]

    def decode(self, ids, skip_special_tokens=True):
        return _bridge.call("decode", handle=self._h(), ids=[int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def decode_batch(self, sequences, skip_special_tokens=True):
        return [self.decode(ids, skip_special_tokens) for ids in sequences]

    # Vocabulary

    def _add(self, tokens, special):
        specs = [_token_spec(t) for t in tokens]
        added = _bridge.call("add_tokens", handle=self._h(), tokens=specs, special=special)
        self._added.append((specs, special))
        return added

    def add_tokens(self, tokens):
        return self._add(tokens, False)

    def add_special_tokens(self, tokens):
        return self._add(tokens, True)

    def token_to_id(self, token):
        return _bridge.call("token_to_id", handle=self._h(), token=token)

    def id_to_token(self, id):
        return _bridge.call("id_to_token", handle=self._h(), id=int(id))

    def get_vocab(self, with_added_tokens=True):
        return _bridge.call("get_vocab", handle=self._h(), with_added=with_added_tokens)

    def get_vocab_size(self, with_added_tokens=True):
        return _bridge.call("get_vocab_size", handle=self._h(), with_added=with_added_tokens)

    def num_special_tokens_to_add(self, is_pair):
        return _bridge.call("num_special_tokens_to_add", handle=self._h(), pair=bool(is_pair))


__all__ = [
    "AddedToken",
    "Component",
    "Encoding",
    "Regex",
    "Tokenizer",
    "decoders",
    "models",
    "normalizers",
    "pre_tokenizers",
    "processors",
    "trainers",
]
