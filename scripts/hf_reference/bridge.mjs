// The Node side of the `tokenizers` stand-in (see README.md here): serves the npm binding of the Rust tokenizer
// to the Python module over stdin/stdout, one JSON request per line, one JSON answer per line.
//
// Usage: node bridge.mjs <folder of the npm "tokenizers" package>
//
// Encoding is done as tokenizers 0.13 (what transformers 4.31 runs on) does it, not as the binding's own
// `encode` with truncation on: since 0.23.1 that stops tokenizing at max_length and loses overflow windows. So
// each sequence is encoded in full with truncation off, then truncation and the post-processor are applied by
// `postProcess`, and padding by `Encoding.pad`.

import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const pkg = process.argv[2];
if (!pkg) {
  process.stderr.write("usage: node bridge.mjs <folder of the npm tokenizers package>\n");
  process.exit(2);
}
const tk = createRequire(import.meta.url)(pkg);

const tokenizers = new Map(); // handle -> Tokenizer
const encodings = new Map(); // handle -> Encoding
const decoders = new Map(); // decoder JSON -> Decoder
let nextHandle = 1;

const STRATEGIES = { longest_first: "LongestFirst", only_first: "OnlyFirst", only_second: "OnlySecond" };

function tokenizerOf(handle) {
  const t = tokenizers.get(handle);
  if (!t) throw new Error(`no tokenizer ${handle}`);
  return t;
}

function encodingOf(handle) {
  const e = encodings.get(handle);
  if (!e) throw new Error(`no encoding ${handle}`);
  return e;
}

/** Registers an encoding (and its overflowing windows) and returns everything Python reads of it. */
function describe(e) {
  const handle = nextHandle++;
  encodings.set(handle, e);
  return {
    handle,
    ids: e.getIds(),
    type_ids: e.getTypeIds(),
    tokens: e.getTokens(),
    offsets: e.getOffsets(),
    attention_mask: e.getAttentionMask(),
    special_tokens_mask: e.getSpecialTokensMask(),
    word_ids: e.getWordIds().map((w) => w ?? null),
    sequence_ids: e.getSequenceIds().map((s) => s ?? null),
    n_sequences: e.getNSequences(),
    overflowing: e.getOverflowing().map(describe),
  };
}

function addTokens(t, tokens, special) {
  const before = t.getVocabSize(true);
  for (const tok of tokens) {
    const plain = !tok.single_word && !tok.lstrip && !tok.rstrip;
    if (special && plain && tok.normalized !== true) {
      t.addSpecialTokens([tok.content]);
    } else {
      t.addAddedTokens([
        new tk.AddedToken(tok.content, special, {
          singleWord: tok.single_word,
          leftStrip: tok.lstrip,
          rightStrip: tok.rstrip,
          normalized: tok.normalized ?? !special,
        }),
      ]);
    }
  }
  return t.getVocabSize(true) - before;
}

async function encodeBatch(t, { inputs, add_special_tokens, truncation, padding }) {
  t.disableTruncation();
  t.disablePadding();
  const out = [];
  for (const [text, pair] of inputs) {
    const a = await t.encode(text, null, { addSpecialTokens: false });
    const b = pair === null ? null : await t.encode(pair, null, { addSpecialTokens: false });
    if (truncation) {
      t.setTruncation(truncation.max_length, {
        stride: truncation.stride,
        strategy: STRATEGIES[truncation.strategy],
        direction: truncation.direction,
      });
    }
    try {
      out.push(t.postProcess(a, b, add_special_tokens));
    } finally {
      t.disableTruncation();
    }
  }
  if (padding) {
    let length = padding.length ?? Math.max(0, ...out.map((e) => e.getLength()));
    const multiple = padding.pad_to_multiple_of;
    if (multiple && length % multiple !== 0) length += multiple - (length % multiple);
    for (const e of out) {
      e.pad(length, {
        direction: padding.direction,
        padId: padding.pad_id,
        padTypeId: padding.pad_type_id,
        padToken: padding.pad_token,
      });
    }
  }
  return out.map(describe);
}

const ENCODING_METHODS = {
  token_to_word: (e, [token]) => e.tokenToWord(token),
  token_to_sequence: (e, [token]) => e.tokenToSequence(token),
  token_to_chars: (e, [token]) => e.tokenToChars(token),
  word_to_tokens: (e, [word, seq]) => e.wordToTokens(word, seq),
  word_to_chars: (e, [word, seq]) => e.wordToChars(word, seq),
  char_to_token: (e, [pos, seq]) => e.charToToken(pos, seq),
  char_to_word: (e, [pos, seq]) => e.charToWord(pos, seq),
};

/** A decoder alone, as the binding builds it from a tokenizer.json that has it. */
function decoderOf(json) {
  let d = decoders.get(json);
  if (!d) {
    const doc = {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: JSON.parse(json),
      model: {
        type: "WordPiece",
        unk_token: "[UNK]",
        continuing_subword_prefix: "##",
        max_input_chars_per_word: 100,
        vocab: { "[UNK]": 0 },
      },
    };
    d = tk.Tokenizer.fromString(JSON.stringify(doc)).getDecoder();
    decoders.set(json, d);
  }
  return d;
}

const OPS = {
  load({ json }) {
    const handle = nextHandle++;
    tokenizers.set(handle, tk.Tokenizer.fromString(json));
    return handle;
  },
  add_tokens: ({ handle, tokens, special }) => addTokens(tokenizerOf(handle), tokens, special),
  encode_batch: (req) => encodeBatch(tokenizerOf(req.handle), req),
  encoding: ({ handle, method, args }) => ENCODING_METHODS[method](encodingOf(handle), args) ?? null,
  decode: ({ handle, ids, skip_special_tokens }) => tokenizerOf(handle).decode(ids, skip_special_tokens),
  decoder_decode: ({ decoder, tokens }) => decoderOf(decoder).decode(tokens),
  token_to_id: ({ handle, token }) => tokenizerOf(handle).tokenToId(token) ?? null,
  id_to_token: ({ handle, id }) => tokenizerOf(handle).idToToken(id) ?? null,
  get_vocab: ({ handle, with_added }) => tokenizerOf(handle).getVocab(with_added),
  get_vocab_size: ({ handle, with_added }) => tokenizerOf(handle).getVocabSize(with_added),
  async num_special_tokens_to_add({ handle, pair }) {
    const t = tokenizerOf(handle);
    t.disableTruncation();
    const a = await t.encode("", null, { addSpecialTokens: false });
    const b = pair ? await t.encode("", null, { addSpecialTokens: false }) : null;
    return t.postProcess(a, b, true).getLength();
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let answer;
  try {
    const req = JSON.parse(line);
    const op = OPS[req.op];
    if (!op) throw new Error(`unknown op ${req.op}`);
    answer = { result: await op(req) };
  } catch (err) {
    answer = { error: String(err?.stack ?? err) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
