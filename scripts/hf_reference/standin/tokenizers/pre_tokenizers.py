from ._component import Component, unsupported


class PreTokenizer(Component):
    pass


class BertPreTokenizer(PreTokenizer):
    def __init__(self):
        super().__init__({"type": "BertPreTokenizer"})


for _name in [
    "ByteLevel",
    "Metaspace",
    "Whitespace",
    "WhitespaceSplit",
    "Sequence",
    "Split",
    "Punctuation",
    "Digits",
    "UnicodeScripts",
    "CharDelimiterSplit",
]:
    globals()[_name] = unsupported(f"pre_tokenizers.{_name}")
