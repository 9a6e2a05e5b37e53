from ._component import Component, unsupported


class Normalizer(Component):
    pass


class BertNormalizer(Normalizer):
    def __init__(self, clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True):
        super().__init__(
            {
                "type": "BertNormalizer",
                "clean_text": clean_text,
                "handle_chinese_chars": handle_chinese_chars,
                "strip_accents": strip_accents,
                "lowercase": lowercase,
            }
        )


for _name in ["Sequence", "Lowercase", "NFD", "NFC", "NFKC", "NFKD", "StripAccents", "Replace", "Precompiled", "Strip"]:
    globals()[_name] = unsupported(f"normalizers.{_name}")
