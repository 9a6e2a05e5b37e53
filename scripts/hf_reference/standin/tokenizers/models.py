from ._component import Component, unsupported


class Model(Component):
    pass


class WordPiece(Model):
    def __init__(self, vocab=None, unk_token="[UNK]", max_input_chars_per_word=100, continuing_subword_prefix="##"):
        super().__init__(
            {
                "type": "WordPiece",
                "unk_token": unk_token,
                "continuing_subword_prefix": continuing_subword_prefix,
                "max_input_chars_per_word": max_input_chars_per_word,
                "vocab": dict(vocab or {}),
            }
        )


BPE = unsupported("models.BPE")
Unigram = unsupported("models.Unigram")
WordLevel = unsupported("models.WordLevel")
