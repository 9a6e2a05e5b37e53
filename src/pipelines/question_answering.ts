/**
 * `question-answering`, as transformers' `QuestionAnsweringPipeline`: extractive answers found in the context,
 * over overlapping windows when the context is long.
 *
 * @module
 */

import type { QuestionAnsweringModel } from "../heads.ts";
import type { Encoding, Tokenizer } from "../tokenizer/mod.ts";
import {
  asList,
  type BatchOptions,
  callSettings,
  makeCallable,
  type PipelineBase,
  PipelineInputError,
  type PipelineOptions,
  runBatched,
} from "./common.ts";
import { modelMaxLength } from "./text_classification.ts";
import { boolOption, describeValue, intOption, isPlainObject, objectInputProblem } from "./validate.ts";

/** A question about a context. */
export interface QuestionAnsweringInput {
  /** The question; not empty. */
  question: string;
  /** The text the answer is taken from; it must hold at least one token. */
  context: string;
}

/** Options of a question-answering call. */
export interface QuestionAnsweringOptions extends BatchOptions {
  /**
   * Answers per input, best first: 1 gives one object, more give a list, even when fewer answers exist
   * (transformers returns the bare object when a single one is left). Default 1.
   */
  topK?: number;
  /** Tokens shared by consecutive windows of a long context. Default min(maxSeqLen / 2, 128). */
  docStride?: number;
  /** Longest answer, in tokens. Default 15. */
  maxAnswerLen?: number;
  /** Tokens per window (question, context and special tokens). Default min(384, the model's maximum). */
  maxSeqLen?: number;
  /** Also consider the empty answer, scored by the `[CLS]` token (SQuAD 2.0 models). Default false. */
  handleImpossibleAnswer?: boolean;
  /**
   * Widen each answer to whole words: from the start of its first token's word to the end of its last token's
   * word (transformers' `align_to_words`), so a span that starts or ends inside a word does not cut it. Scores
   * are unchanged. Default true; false keeps the tokens' own offsets (for text written without spaces).
   */
  alignToWords?: boolean;
}

/** An answer: the context's text from `start` to `end` (UTF-16 offsets, end exclusive). */
export interface QuestionAnsweringResult {
  /** `context.slice(start, end)`. */
  answer: string;
  /** Probability of the span: softmax(start logits)[start token] x softmax(end logits)[end token]. */
  score: number;
  /** Offset of the answer's first character in the context. */
  start: number;
  /** Offset just after the answer's last character. */
  end: number;
}

/** A callable question-answering pipeline. */
export interface QuestionAnsweringPipeline extends PipelineBase {
  /** Answers one question: the best answer, or with `topK` > 1 a list. */
  (
    input: QuestionAnsweringInput,
    options?: QuestionAnsweringOptions,
  ): Promise<QuestionAnsweringResult | QuestionAnsweringResult[]>;
  /** Answers many questions, in input order. */
  (
    inputs: readonly QuestionAnsweringInput[],
    options?: QuestionAnsweringOptions,
  ): Promise<(QuestionAnsweringResult | QuestionAnsweringResult[])[]>;
  /** Answers one or many questions. */
  (
    input: QuestionAnsweringInput | readonly QuestionAnsweringInput[],
    options?: QuestionAnsweringOptions,
  ): Promise<
    | QuestionAnsweringResult
    | QuestionAnsweringResult[]
    | (QuestionAnsweringResult | QuestionAnsweringResult[])[]
  >;
  /** The task. */
  readonly task: "question-answering";
  /** The model. */
  readonly model: QuestionAnsweringModel;
  /** The tokenizer. */
  readonly tokenizer: Tokenizer;
}

/** A candidate span of one window, in token positions. */
export interface SpanCandidate {
  /** First token. */
  start: number;
  /** Last token (inclusive). */
  end: number;
  /** Probability of the span. */
  score: number;
}

/**
 * Best spans of one window, as transformers' QA postprocessing and `decode_spans`: logits of tokens that cannot
 * be part of an answer (not in the context, padding) are set to -10000 — `[CLS]` keeps its logit — then each
 * side goes through a softmax; spans need `start <= end < start + maxAnswerLen` inside the context.
 *
 * @param startLogits start logits of the window's tokens
 * @param endLogits end logits of the window's tokens
 * @param isContext whether each token belongs to the context (`sequenceIds == 1` and not padding)
 * @param clsIndex position of `[CLS]` (-1 if none)
 * @returns the `topK` best spans, best first, and the `[CLS]` x `[CLS]` score ("no answer")
 */
export function bestSpans(
  startLogits: ArrayLike<number>,
  endLogits: ArrayLike<number>,
  isContext: ArrayLike<boolean>,
  clsIndex: number,
  maxAnswerLen: number,
  topK: number,
): { spans: SpanCandidate[]; nullScore: number } {
  const n = isContext.length;
  const keep = (s: number) => isContext[s] || s === clsIndex;
  const probs = (logits: ArrayLike<number>) => {
    const masked = new Float64Array(n);
    let max = -Infinity;
    for (let s = 0; s < n; s++) max = Math.max(max, masked[s] = keep(s) ? logits[s] : -10000);
    let sum = 0;
    for (let s = 0; s < n; s++) sum += masked[s] = Math.exp(masked[s] - max);
    for (let s = 0; s < n; s++) masked[s] /= sum;
    return masked;
  };
  const ps = probs(startLogits), pe = probs(endLogits);
  const nullScore = clsIndex >= 0 ? ps[clsIndex] * pe[clsIndex] : 0;
  const spans: SpanCandidate[] = [];
  for (let s = 0; s < n; s++) {
    if (!isContext[s]) continue;
    for (let e = s; e < n && e < s + maxAnswerLen; e++) {
      if (!isContext[e]) continue;
      const score = ps[s] * pe[e];
      if (spans.length === topK && score <= spans[topK - 1].score) continue;
      let j = Math.min(spans.length, topK - 1);
      while (j > 0 && spans[j - 1].score < score) j--;
      spans.splice(j, 0, { start: s, end: e, score });
      if (spans.length > topK) spans.pop();
    }
  }
  return { spans, nullScore };
}

/**
 * The context offsets of a span of window tokens `start..end` (inclusive), as transformers' `get_indices`: with
 * `alignToWords`, from the first context token of the start token's word to the last context token of the end
 * token's word within this window (a word cut by the window's edge keeps only the part inside it); otherwise the
 * tokens' own offsets.
 */
export function answerOffsets(
  window: Encoding,
  start: number,
  end: number,
  alignToWords: boolean,
): [start: number, end: number] {
  const startWord = window.wordIds[start], endWord = window.wordIds[end];
  if (!alignToWords || startWord === null || endWord === null) {
    return [window.offsets[start][0], window.offsets[end][1]];
  }
  const inContext = (t: number, word: number) => window.sequenceIds[t] === 1 && window.wordIds[t] === word;
  let first = 0;
  while (!inContext(first, startWord)) first++;
  let last = window.wordIds.length - 1;
  while (!inContext(last, endWord)) last--;
  return [window.offsets[first][0], window.offsets[last][1]];
}

function qaInputProblem(x: unknown): string | undefined {
  if (!isPlainObject(x)) return `expected { question, context }, got ${describeValue(x)}`;
  const problem = objectInputProblem(x, ["question", "context"]);
  if (problem !== undefined) return problem;
  // As transformers: with nothing to ask or nothing to take an answer from, an "answer" ("", score 0) would be
  // made up.
  for (const key of ["question", "context"]) if (x[key] === "") return `"${key}" is empty`;
  return undefined;
}

export const CALL_KEYS = [
  "topK",
  "docStride",
  "maxAnswerLen",
  "maxSeqLen",
  "handleImpossibleAnswer",
  "alignToWords",
] as const satisfies readonly (keyof QuestionAnsweringOptions)[];
const _callKeysComplete:
  Exclude<keyof QuestionAnsweringOptions, typeof CALL_KEYS[number] | keyof BatchOptions> extends never ? true
    : never = true;
void _callKeysComplete;

/** Builds the pipeline around a loaded model and tokenizer. */
export function questionAnsweringPipeline(
  model: QuestionAnsweringModel,
  tokenizer: Tokenizer,
  modelDir: string,
  defaults: PipelineOptions,
): QuestionAnsweringPipeline {
  const modelMax = modelMaxLength(tokenizer, model.config.max_position_embeddings);
  // The special tokens of a question + context row ([CLS] q [SEP] c [SEP]: 3).
  const pairSpecials = tokenizer.encode("", "").inputIds.length;

  // The tokenizer refuses a window it cannot cut ("sequence to truncate too short", "stride must be less than
  // the truncated length"); what does not fit is the question, or docStride against the context tokens the
  // question leaves a window, so say that.
  function windowProblem(question: string, maxSeqLen: number, docStride: number): string | undefined {
    const questionTokens = tokenizer.encode(question, "").inputIds.length - pairSpecials;
    const room = maxSeqLen - pairSpecials - questionTokens;
    if (room <= 0) {
      return `the question is ${questionTokens} tokens: with the ${pairSpecials} special tokens of a window it ` +
        `leaves no room for the context in maxSeqLen ${maxSeqLen}`;
    }
    if (docStride >= room) {
      return `docStride (${docStride}) must be smaller than the ${room} context tokens a window holds ` +
        `(maxSeqLen ${maxSeqLen} less the question's ${questionTokens} tokens and ${pairSpecials} special tokens)`;
    }
    return undefined;
  }

  async function call(
    input: QuestionAnsweringInput | readonly QuestionAnsweringInput[],
    call?: QuestionAnsweringOptions,
  ): Promise<
    | QuestionAnsweringResult
    | QuestionAnsweringResult[]
    | (QuestionAnsweringResult | QuestionAnsweringResult[])[]
  > {
    const { items, single } = asList<QuestionAnsweringInput>(input, qaInputProblem);
    const { options, settings } = callSettings(call, defaults, CALL_KEYS, "question-answering");
    const topK = intOption("topK", options.topK, 1) ?? 1;
    const maxAnswerLen = intOption("maxAnswerLen", options.maxAnswerLen, 1) ?? 15;
    const maxSeqLen = intOption("maxSeqLen", options.maxSeqLen, 1) ?? Math.min(384, modelMax);
    if (maxSeqLen > modelMax) {
      throw new RangeError(`maxSeqLen ${maxSeqLen} exceeds the model's maximum ${modelMax}`);
    }
    // With no room left beside them the tokenizer (as tokenizers does for a max_length of 0) truncates
    // nothing: every window would be the whole question and context, longer than maxSeqLen.
    if (maxSeqLen <= pairSpecials) {
      throw new RangeError(
        `maxSeqLen ${maxSeqLen} leaves no room for the question and context beside the ${pairSpecials} ` +
          `special tokens of a window`,
      );
    }
    const docStride = intOption("docStride", options.docStride, 0) ??
      Math.min(Math.floor(maxSeqLen / 2), 128);
    if (docStride >= maxSeqLen) {
      throw new RangeError(`docStride (${docStride}) must be smaller than maxSeqLen (${maxSeqLen})`);
    }
    const impossible = boolOption("handleImpossibleAnswer", options.handleImpossibleAnswer) ?? false;
    const alignToWords = boolOption("alignToWords", options.alignToWords) ?? true;

    // Every window of every input, and the input it belongs to.
    const windows: Encoding[] = [];
    const owner: number[] = [];
    items.forEach((x, i) => {
      let first: Encoding;
      try {
        first = tokenizer.encode(x.question, x.context, {
          truncation: "only_second",
          maxLength: maxSeqLen,
          stride: docStride,
          returnOverflowing: true,
        });
      } catch (err) {
        throw new PipelineInputError(
          single ? undefined : i,
          windowProblem(x.question, maxSeqLen, docStride) ?? (err as Error).message,
        );
      }
      const own = [first, ...(first.overflowing ?? [])];
      delete first.overflowing;
      // A context of only spaces or control characters has no token an answer could start at.
      if (!own.some((w) => w.sequenceIds.includes(1))) {
        throw new PipelineInputError(
          single ? undefined : i,
          `"context" has no tokens (${describeValue(x.context)}): there is no text to take an answer from`,
        );
      }
      for (const w of own) {
        windows.push(w);
        owner.push(i);
      }
    });

    const candidates: { result: QuestionAnsweringResult; window: number }[][] = items.map(() => []);
    const nullScores = items.map(() => Infinity);
    await runBatched(windows, settings, model.config.pad_token_id, (batch) => {
      const { startLogits, endLogits } = model.forward(batch);
      batch.rows.forEach((r, b) => {
        const w = windows[r], i = owner[r], n = w.inputIds.length;
        const from = b * batch.seqLen;
        const isContext = w.sequenceIds.map((id, s) => id === 1 && w.attentionMask[s] === 1);
        const clsIndex = w.specialTokensMask[0] === 1 && w.attentionMask[0] === 1 ? 0 : -1;
        const { spans, nullScore } = bestSpans(
          startLogits.data.subarray(from, from + n),
          endLogits.data.subarray(from, from + n),
          isContext,
          clsIndex,
          maxAnswerLen,
          topK,
        );
        nullScores[i] = Math.min(nullScores[i], nullScore);
        const context = items[i].context;
        for (const span of spans) {
          const [start, end] = answerOffsets(w, span.start, span.end, alignToWords);
          candidates[i].push({
            result: { answer: context.slice(start, end), score: span.score, start, end },
            window: r,
          });
        }
      });
    }, model.config.type_vocab_size > 0);

    const results = candidates.map((list, i) => {
      if (impossible) {
        const score = nullScores[i] === Infinity ? 0 : nullScores[i];
        list.push({ result: { answer: "", score, start: 0, end: 0 }, window: Infinity });
      }
      // Best first; on equal scores the earlier window, then the earlier span (spans of a window come sorted).
      list.sort((a, b) => b.result.score - a.result.score || a.window - b.window);
      const top = list.slice(0, topK).map((c) => c.result);
      if (topK > 1) return top;
      return top[0] ?? { answer: "", score: 0, start: 0, end: 0 };
    });
    return single ? results[0] : results;
  }

  return makeCallable<QuestionAnsweringPipeline>(
    call,
    { task: "question-answering" as const, modelDir, model, tokenizer },
    () => model.close(),
  );
}
