"""
The inputs and options of the pipeline references: every case is one call of a pipeline, with options named as
this project names them (camelCase); generate.py maps them to transformers' keyword arguments.
"""

SHORT = "The committee approved the budget. Rome is the capital of Italy."
MEDIUM = (
    "Acme Inc. was founded in 1998 by Jane O'Neil in Zürich. Its first product, a solar-powered kettle, sold "
    "12,000 units; the company's headquarters moved to Rome in 2005, and today it employs about 2.8 thousand people."
)
UNICODE = "Café owners in Tōkyō (東京) serve crème brûlée 🍮 every Tuesday, and the ☃ snowman logo is everywhere."
LONG = (
    "The history of the city began in the eighth century, when shepherds settled on the hills above the river. "
    "Over the following centuries the settlement grew into a market town, then into the capital of a small "
    "kingdom whose rulers built walls, bridges and an unbelievably large cathedral. In 1347 the plague killed "
    "almost half of the population; the survivors rebuilt the harbour and, by 1420, merchants from Genoa, "
    "Venice and Barcelona traded wool, salt and silver there. The university was founded in 1503 by Bishop "
    "Alfonso de Mendoza, who also paid for the first public library. Industrialisation came late: the railway "
    "reached the city only in 1871, and the steelworks opened in 1889, employing 4,500 workers at their peak. "
    "After the war, the old town was restored with money from a national fund, and tourism replaced industry "
    "as the main source of income. Today the city has about 310,000 inhabitants, two universities, a football "
    "club founded in 1902 and a festival of early music held every September since 1967."
)
LONG_NER = " ".join([MEDIUM, LONG])

NER_TEXTS = [
    "The committee approved the budget.",
    "Jane O'Neil founded Acme Inc. in Zürich in 1998.",
    "Barack Obama met Angela Merkel at the U.S. embassy in Berlin, didn't he?",
    "Café owners in Tōkyō (東京) love crème brûlée 🍮 and the ☃ logo.",
    "Cafe\u0301 Ame\u0301lie opened in Montre\u0301al.",  # combining accents: tokens shorter than their text
    "microsoft corporation and openai, inc. signed a $10,000,000 deal.",
    "unbelievably long-winded sentences, with commas; semicolons: and more!!",
    "Hi",
]
STRATEGIES = ["none", "simple", "first", "average", "max"]
# Punctuation after words, which the decoder's clean-up joins back ("inc ." -> "inc.").
PUNCTUATED = "Acme, Inc. and Globex, Ltd. met Dr. Smith, Mr. Jones and Ms. Lee; they didn't agree, did they? No!"


def qa(model, question, context, **options):
    return {"pipeline": "question-answering", "model": model, "input": {"question": question, "context": context},
            "options": options}


def ner(model, text, **options):
    return {"pipeline": "token-classification", "model": model, "input": text, "options": options}


def fill(model, text, **options):
    return {"pipeline": "fill-mask", "model": model, "input": text, "options": options}


def classify(model, text, **options):
    return {"pipeline": "text-classification", "model": model, "input": text, "options": options}


def features(model, text, **options):
    return {"pipeline": "feature-extraction", "model": model, "input": text, "options": options}


CASES = [
    # --- question answering: default options, word alignment on and off, top_k, max_answer_len, windows
    qa("small-qa", "What did the committee approve?", SHORT),
    qa("small-qa", "What did the committee approve?", SHORT, alignToWords=False),
    qa("small-qa", "What did the committee approve?", SHORT, handleImpossibleAnswer=True),
    qa("small-qa", "Who founded Acme?", MEDIUM, topK=5),
    qa("small-qa", "Who founded Acme?", MEDIUM, topK=5, alignToWords=False),
    qa("small-qa", "Where are the headquarters?", MEDIUM, topK=3, maxAnswerLen=3),
    qa("small-qa", "Where are the headquarters?", MEDIUM, topK=4, maxAnswerLen=1),
    qa("small-qa", "What do café owners serve?", UNICODE, topK=3),
    qa("small-qa", "What do café owners serve?", UNICODE, topK=3, alignToWords=False),
    qa("small-qa", "When was the university founded?", LONG, topK=5, maxSeqLen=64, docStride=16),
    qa("small-qa", "When was the university founded?", LONG, topK=3, maxSeqLen=48, docStride=8,
       handleImpossibleAnswer=True),
    qa("small-qa", "How many inhabitants?", LONG, maxSeqLen=96, docStride=40, maxAnswerLen=30),
    qa("small-qa", "How many inhabitants?", LONG, topK=2, maxSeqLen=64, docStride=30, alignToWords=False),
    qa("small-qa", "Which city?", "Rome"),
    {"pipeline": "question-answering", "model": "small-qa", "options": {"topK": 2}, "input": [
        {"question": "What was approved?", "context": SHORT},
        {"question": "What is the capital of Italy?", "context": SHORT},
        {"question": "Who founded Acme?", "context": MEDIUM},
    ]},
    {"pipeline": "question-answering", "model": "small-qa", "options": {}, "input": [
        {"question": "What was approved?", "context": SHORT},
        {"question": "When?", "context": LONG},
    ]},
    qa("sst2vocab-qa", "When was the university founded?", LONG, topK=3),
    qa("sst2vocab-qa", "Who founded Acme?", MEDIUM, topK=5),
    qa("sst2vocab-qa", "Who founded Acme?", MEDIUM, topK=5, alignToWords=False),
    qa("sst2vocab-qa", "What was approved?", SHORT, topK=3, maxAnswerLen=2),
    qa("sst2vocab-qa", "Which city?", "Rome is lovely", topK=3),
    qa("sst2vocab-qa", "Which city?", "Rome is lovely", topK=3, alignToWords=False),
    qa("base-qa", "Who founded Acme?", MEDIUM, topK=3),
    qa("base-qa", "When was the university founded?", LONG, topK=2, maxSeqLen=64, docStride=24),
    # --- token classification: every aggregation strategy on every text
    *[ner("small-tokcls", t, aggregationStrategy=s) for t in NER_TEXTS for s in STRATEGIES],
    ner("small-tokcls", NER_TEXTS[1], aggregationStrategy="simple", ignoreLabels=[]),
    ner("small-tokcls", NER_TEXTS[1], aggregationStrategy="first", ignoreLabels=["O", "B-PER", "I-PER"]),
    ner("small-tokcls", NER_TEXTS[2], ignoreLabels=[]),
    {"pipeline": "token-classification", "model": "small-tokcls", "input": NER_TEXTS[:3],
     "options": {"aggregationStrategy": "average"}},
    *[ner("small-tokcls", PUNCTUATED, aggregationStrategy=s, ignoreLabels=[]) for s in STRATEGIES[1:]],
    *[ner("sst2vocab-tokcls", t, aggregationStrategy=s) for t in NER_TEXTS[1:4] for s in STRATEGIES],
    *[ner("sst2vocab-tokcls", PUNCTUATED, aggregationStrategy=s, ignoreLabels=[]) for s in STRATEGIES[1:]],
    ner("sst2vocab-tokcls", LONG_NER, aggregationStrategy="simple"),  # truncated at 128 tokens
    ner("sst2vocab-tokcls", LONG_NER, aggregationStrategy="average"),
    *[ner("base-tokcls", t, aggregationStrategy=s) for t in NER_TEXTS[1:3] for s in ["simple", "average"]],
    # Labels of several dashes (B-WORK-OF-ART, B-geo-loc, MISC-X) and without a B- / I- prefix (PER, ORG): a group
    # is named by the last dash-separated part of its first label, and ignoreLabels matches that name.
    *[ner("small-tokcls-tags", t, aggregationStrategy=s) for t in [NER_TEXTS[1], MEDIUM] for s in STRATEGIES],
    ner("small-tokcls-tags", NER_TEXTS[3], aggregationStrategy="first", ignoreLabels=[]),
    ner("small-tokcls-tags", MEDIUM, aggregationStrategy="simple", ignoreLabels=["O", "ART", "loc"]),
    # --- fill-mask: one mask, several masks, top_k
    fill("small-mlm", "Paris is the [MASK] of France."),
    fill("small-mlm", "Paris is the [MASK] of France.", topK=1),
    fill("small-mlm", "The [MASK] approved the [MASK].", topK=3),
    fill("small-mlm", "[MASK] [MASK] [MASK]", topK=2),
    fill("small-mlm", "I love this movie [MASK]", topK=10),
    fill("small-mlm", "[MASK] is a city in Italy."),
    fill("small-mlm", 'She said, "don\'t [MASK] it, it\'s John\'s."', topK=4),
    fill("small-mlm", "Zürich's café served crème [MASK] 🍮 ☃.", topK=3),
    {"pipeline": "fill-mask", "model": "small-mlm", "input": ["The [MASK] is here.", "A [MASK] and a [MASK]."],
     "options": {"topK": 2}},
    fill("sst2vocab-mlm", "a gorgeous, witty, [MASK] movie."),
    fill("sst2vocab-mlm", "the plot is nothing but tired [MASK] .", topK=3),
    fill("sst2vocab-mlm", "the [MASK] was [MASK] .", topK=3),
    fill("base-mlm", "Paris is the [MASK] of France."),
    fill("base-mlm", "The [MASK] approved the [MASK].", topK=3),
    # --- text classification: one string, lists, pairs, top_k, function_to_apply, truncation
    classify("sst2", "a gorgeous, witty, seductive movie."),
    classify("sst2", "the plot is nothing but tired clichés", topK=2),
    classify("sst2", "the plot is nothing but tired clichés", topK=1),
    classify("sst2", ["I loved it", "Dull and far too long", "an okay film"]),
    classify("sst2", ["I loved it", "Dull and far too long"], topK=None),
    classify("sst2", {"text": "the acting is great", "textPair": "but the script is weak"}),
    classify("sst2", {"text": "the acting is great", "textPair": "but the script is weak"}, topK=None),
    classify("sst2", "a gorgeous, witty, seductive movie.", functionToApply="sigmoid"),
    classify("sst2", "a gorgeous, witty, seductive movie.", functionToApply="none", topK=None),
    # An empty textPair is no pair: transformers' tokenizer call encodes (text, text_pair) only `if text_pair`.
    classify("sst2", {"text": "the acting is great", "textPair": ""}, topK=None),
    classify("sst2", [{"text": "I loved it", "textPair": ""}, {"text": "I loved it", "textPair": "but"}]),
    classify("sst2", LONG, truncation=True),
    classify("sst2", ""),
    classify("small-multilabel", "The committee approved the budget."),
    classify("small-multilabel", "The committee approved the budget.", topK=None),
    classify("small-multilabel", ["Hi", "Jane O'Neil founded Acme Inc."]),
    classify("small-onelabel", "The committee approved the budget."),
    classify("small-onelabel", "The committee approved the budget.", functionToApply="softmax", topK=None),
    # --- feature extraction: the last hidden state of every token
    features("sst2", "a gorgeous, witty, seductive movie."),
    features("sst2", ["I loved it", "Dull and far too long"]),
    features("small-mlm", "Zürich's café served crème brûlée 🍮."),
    features("base-mlm", "The committee approved the budget."),
]
