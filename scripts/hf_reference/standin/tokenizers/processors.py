from ._component import Component, unsupported


class PostProcessor(Component):
    pass


def _piece(text):
    name, _, type_id = text.partition(":")
    type_id = int(type_id) if type_id else 0
    if name.startswith("$"):
        seq = {"": "A", "A": "A", "0": "A", "B": "B", "1": "B"}[name[1:]]
        return {"Sequence": {"id": seq, "type_id": type_id}}
    return {"SpecialToken": {"id": name, "type_id": type_id}}


def _template(template):
    if isinstance(template, str):
        template = template.split()
    return [_piece(p) for p in template]


class TemplateProcessing(PostProcessor):
    def __init__(self, single=None, pair=None, special_tokens=None):
        specials = {}
        for token in special_tokens or []:
            if isinstance(token, tuple):
                content, id_ = token
                token = {"id": content, "ids": [id_], "tokens": [content]}
            specials[token["id"]] = token
        super().__init__(
            {
                "type": "TemplateProcessing",
                "single": _template(single),
                "pair": _template(pair),
                "special_tokens": specials,
            }
        )


class BertProcessing(PostProcessor):
    def __init__(self, sep, cls):
        super().__init__({"type": "BertProcessing", "sep": list(sep), "cls": list(cls)})


for _name in ["ByteLevel", "RobertaProcessing", "Sequence"]:
    globals()[_name] = unsupported(f"processors.{_name}")
