from . import _bridge
from ._component import Component, unsupported


class Decoder(Component):
    def decode(self, tokens):
        """Runs the decoder itself in the Rust binding."""
        return _bridge.call("decoder_decode", decoder=self.__getstate__(), tokens=list(tokens))


class WordPiece(Decoder):
    def __init__(self, prefix="##", cleanup=True):
        super().__init__({"type": "WordPiece", "prefix": prefix, "cleanup": cleanup})


for _name in ["ByteLevel", "Metaspace", "BPEDecoder", "CTC", "Sequence", "Replace", "ByteFallback", "Fuse", "Strip"]:
    globals()[_name] = unsupported(f"decoders.{_name}")
