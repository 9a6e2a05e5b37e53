/**
 * `token-classification` / `ner`, as transformers' `TokenClassificationPipeline`, with its aggregation
 * strategies factored into pure functions.
 *
 * @module
 */

import type { TokenClassificationModel } from "../heads.ts";
import type { Encoding, Tokenizer } from "../tokenizer/mod.ts";
import {
  argmax,
  asList,
  type BatchOptions,
  callSettings,
  makeCallable,
  type PipelineBase,
  type PipelineOptions,
  runBatched,
  softmax,
  stringProblem,
} from "./common.ts";
import { enumOption, stringArrayOption } from "./validate.ts";
import { modelMaxLength } from "./text_classification.ts";
import { decodeWordPiece } from "../tokenizer/decode.ts";

/**
 * How token predictions become entities (transformers' `aggregation_strategy`):
 * - `none`: every token on its own;
 * - `simple`: adjacent tokens with the same entity type are grouped (`B-` starts a new group);
 * - `first` / `average` / `max`: tokens are first merged into words, each word labelled by its first token, by
 *   the average of its tokens' scores, or by its most confident token; then words are grouped as `simple` does.
 */
export type AggregationStrategy = "none" | "simple" | "first" | "average" | "max";

/** Options of a token-classification call. */
export interface TokenClassificationOptions extends BatchOptions {
  /** Default `"none"`. */
  aggregationStrategy?: AggregationStrategy;
  /** Labels left out of the results. Default `["O"]`. */
  ignoreLabels?: string[];
}

/** A token's prediction (aggregation `none`). */
export interface TokenEntity {
  /** The label, e.g. `B-PER`. */
  entity: string;
  /** Its probability. */
  score: number;
  /** The token's position in the encoded row. */
  index: number;
  /** The token, e.g. `##son` (the original text for unknown tokens). */
  word: string;
  /** Offset of the token's first character in the input (UTF-16). */
  start: number;
  /** Offset just after its last character. */
  end: number;
}

/** A group of tokens or words with one entity type (other strategies). */
export interface EntityGroup {
  /** The entity type, e.g. `PER`: the part of the group's first label after its last dash (`B-PER` gives `PER`). */
  entity_group: string;
  /** Mean score of the grouped tokens or words. */
  score: number;
  /** The grouped tokens joined back into text. */
  word: string;
  /** Offset of the group's first character in the input (UTF-16). */
  start: number;
  /** Offset just after its last character. */
  end: number;
}

/** One result of a token-classification call. */
export type TokenClassificationResult = TokenEntity | EntityGroup;

/** What the model says about one (non-special) token: the input of {@link aggregateTokens}. */
export interface TokenPrediction {
  /** The token string (`##`-prefixed inside words; the original text for unknown tokens). */
  word: string;
  /** Probabilities over the labels. */
  scores: ArrayLike<number>;
  /** Position in the encoded row. */
  index: number;
  /** Start offset in the input. */
  start: number;
  /** End offset in the input. */
  end: number;
  /** Whether the token continues the previous token's word. */
  isSubword: boolean;
}

/** A callable token-classification pipeline. */
export interface TokenClassificationPipeline extends PipelineBase {
  /** Labels the tokens of one input. */
  (input: string, options?: TokenClassificationOptions): Promise<TokenClassificationResult[]>;
  /** Labels the tokens of many inputs, in input order. */
  (inputs: readonly string[], options?: TokenClassificationOptions): Promise<TokenClassificationResult[][]>;
  /** Labels the tokens of one or many inputs. */
  (
    input: string | readonly string[],
    options?: TokenClassificationOptions,
  ): Promise<TokenClassificationResult[] | TokenClassificationResult[][]>;
  /** The task. */
  readonly task: "token-classification";
  /** The model. */
  readonly model: TokenClassificationModel;
  /** The tokenizer. */
  readonly tokenizer: Tokenizer;
}

const STRATEGIES: readonly AggregationStrategy[] = ["none", "simple", "first", "average", "max"];

export const CALL_KEYS = [
  "aggregationStrategy",
  "ignoreLabels",
] as const satisfies readonly (keyof TokenClassificationOptions)[];
const _callKeysComplete:
  Exclude<keyof TokenClassificationOptions, typeof CALL_KEYS[number] | keyof BatchOptions> extends never
    ? true
    : never = true;
void _callKeysComplete;

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * The predictions of one encoded row, as transformers' `gather_pre_entities` with a fast tokenizer: special
 * tokens skipped, softmax over labels, and a token is a subword when its string and its source text differ in
 * length (`##ing` vs `ing`). Unknown tokens take their source text and start a word.
 *
 * @param text the input the row was encoded from
 * @param encoding the row
 * @param logits `[encoding length, numLabels]` row-major
 * @param unkId the unknown token's id
 * @param tokenOf the vocabulary's string of an id (the tokenizer's `idToToken`); by default the row's tokens,
 *   which differ from it for added tokens with lstrip / rstrip (they hold the whitespace matched)
 */
export function tokenPredictions(
  text: string,
  encoding: Encoding,
  logits: ArrayLike<number>,
  numLabels: number,
  unkId: number | undefined,
  tokenOf?: (id: number) => string | undefined,
): TokenPrediction[] {
  const out: TokenPrediction[] = [];
  for (let s = 0; s < encoding.inputIds.length; s++) {
    if (encoding.specialTokensMask[s] || !encoding.attentionMask[s]) continue;
    const [start, end] = encoding.offsets[s];
    const ref = text.slice(start, end);
    // transformers takes the word from convert_ids_to_tokens, not from the encoding's tokens.
    let word = tokenOf?.(encoding.inputIds[s]) ?? encoding.tokens[s];
    let isSubword = codePoints(word) !== codePoints(ref);
    if (encoding.inputIds[s] === unkId) {
      word = ref;
      isSubword = false;
    }
    out.push({ word, scores: softmax(logits, s * numLabels, numLabels), index: s, start, end, isSubword });
  }
  return out;
}

/** Token strings back to text: a tokenizer's `convertTokensToString`. */
export type TokensToString = (tokens: readonly string[]) => string;

/**
 * What BERT's fast tokenizers do in transformers' `convert_tokens_to_string`: the WordPiece decoder with its
 * clean-up (`##` pieces glued, "budget ." -> "budget.", "inc ." -> "inc.").
 */
export const wordPieceTokensToString: TokensToString = (tokens) => decodeWordPiece(tokens, "##", true);

function splitTag(label: string): [bi: "B" | "I", tag: string] {
  if (label.startsWith("B-")) return ["B", label.slice(2)];
  if (label.startsWith("I-")) return ["I", label.slice(2)];
  return ["I", label]; // not in B-/I- form: a continuation
}

interface WordEntity {
  entity: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

function aggregateWord(
  tokens: TokenPrediction[],
  labels: readonly string[],
  strategy: AggregationStrategy,
  toString: TokensToString,
) {
  let scores: ArrayLike<number>;
  if (strategy === "first") {
    scores = tokens[0].scores;
  } else if (strategy === "max") {
    let best = tokens[0], bestMax = -Infinity;
    for (const t of tokens) {
      const m = Math.max(...Array.from(t.scores));
      if (m > bestMax) [best, bestMax] = [t, m];
    }
    scores = best.scores;
  } else {
    const avg = new Float64Array(labels.length);
    for (const t of tokens) for (let k = 0; k < avg.length; k++) avg[k] += t.scores[k] / tokens.length;
    scores = avg;
  }
  const k = argmax(scores);
  return {
    entity: labels[k] ?? `LABEL_${k}`,
    score: scores[k],
    word: toString(tokens.map((t) => t.word)),
    start: tokens[0].start,
    end: tokens[tokens.length - 1].end,
  };
}

function groupEntities(entities: readonly WordEntity[], toString: TokensToString): EntityGroup[] {
  const groups: EntityGroup[] = [];
  let current: WordEntity[] = [];
  const flush = () => {
    if (current.length === 0) return;
    // transformers names the group `label.split("-")[-1]`: the part after the last dash, so B-WORK-OF-ART
    // gives ART (not WORK-OF-ART), and ignoreLabels is matched against that.
    const label = current[0].entity;
    groups.push({
      entity_group: label.slice(label.lastIndexOf("-") + 1),
      score: current.reduce((a, e) => a + e.score, 0) / current.length,
      word: toString(current.map((e) => e.word)),
      start: current[0].start,
      end: current[current.length - 1].end,
    });
    current = [];
  };
  for (const e of entities) {
    if (current.length > 0) {
      const [bi, tag] = splitTag(e.entity);
      const [, lastTag] = splitTag(current[current.length - 1].entity);
      if (!(tag === lastTag && bi !== "B")) flush();
    }
    current.push(e);
  }
  flush();
  return groups;
}

/**
 * Turns token predictions into results, as transformers' `aggregate` + `group_entities` + the `ignore_labels`
 * filter (applied after grouping, so an ignored label still separates groups). Words and groups are joined back
 * into text by `toString`, the tokenizer's decoder as transformers' fast tokenizers do (by default BERT's
 * WordPiece decoder).
 */
export function aggregateTokens(
  tokens: readonly TokenPrediction[],
  labels: readonly string[],
  strategy: AggregationStrategy = "none",
  ignoreLabels: readonly string[] = ["O"],
  toString: TokensToString = wordPieceTokensToString,
): TokenClassificationResult[] {
  enumOption("aggregationStrategy", strategy, STRATEGIES);
  const ignored = new Set(stringArrayOption("ignoreLabels", ignoreLabels));
  if (strategy === "none" || strategy === "simple") {
    const entities: TokenEntity[] = tokens.map((t) => {
      const k = argmax(t.scores);
      return {
        entity: labels[k] ?? `LABEL_${k}`,
        score: t.scores[k],
        index: t.index,
        word: t.word,
        start: t.start,
        end: t.end,
      };
    });
    if (strategy === "none") return entities.filter((e) => !ignored.has(e.entity));
    return groupEntities(entities, toString).filter((g) => !ignored.has(g.entity_group));
  }
  const words: WordEntity[] = [];
  let group: TokenPrediction[] = [];
  for (const t of tokens) {
    if (group.length > 0 && !t.isSubword) {
      words.push(aggregateWord(group, labels, strategy, toString));
      group = [];
    }
    group.push(t);
  }
  if (group.length > 0) words.push(aggregateWord(group, labels, strategy, toString));
  return groupEntities(words, toString).filter((g) => !ignored.has(g.entity_group));
}

/** Builds the pipeline around a loaded model and tokenizer. */
export function tokenClassificationPipeline(
  model: TokenClassificationModel,
  tokenizer: Tokenizer,
  modelDir: string,
  unkToken: string,
  defaults: PipelineOptions,
): TokenClassificationPipeline {
  const labels = model.labelNames;
  const numLabels = model.numLabels;
  const unkId = tokenizer.tokenToId(unkToken);
  const maxLength = modelMaxLength(tokenizer, model.config.max_position_embeddings);
  const toString: TokensToString = (tokens) => tokenizer.convertTokensToString(tokens);

  async function call(
    input: string | readonly string[],
    call?: TokenClassificationOptions,
  ): Promise<TokenClassificationResult[] | TokenClassificationResult[][]> {
    const { items, single } = asList<string>(input, stringProblem);
    const { options, settings } = callSettings(call, defaults, CALL_KEYS, "token-classification");
    const strategy = enumOption("aggregationStrategy", options.aggregationStrategy, STRATEGIES) ?? "none";
    const ignoreLabels = stringArrayOption("ignoreLabels", options.ignoreLabels) ?? ["O"];
    const encodings: Encoding[] = items.map((text) =>
      tokenizer.encode(text, null, { truncation: true, maxLength })
    );
    const out: TokenClassificationResult[][] = new Array(items.length);
    await runBatched(encodings, settings, model.config.pad_token_id, (batch) => {
      const { logits } = model.forward(batch);
      const rowSize = batch.seqLen * numLabels;
      batch.rows.forEach((r, b) => {
        const row = logits.data.subarray(b * rowSize, (b + 1) * rowSize);
        const predictions = tokenPredictions(
          items[r],
          encodings[r],
          row,
          numLabels,
          unkId,
          (id) => tokenizer.idToToken(id),
        );
        out[r] = aggregateTokens(predictions, labels, strategy, ignoreLabels, toString);
      });
    }, model.config.type_vocab_size > 0);
    return single ? out[0] : out;
  }

  return makeCallable<TokenClassificationPipeline>(
    call,
    { task: "token-classification" as const, modelDir, model, tokenizer },
    () => model.close(),
  );
}
