/**
 * `fill-mask`, as transformers' `FillMaskPipeline`.
 *
 * @module
 */

import type { MaskedLMModel } from "../heads.ts";
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
  softmax,
  stringProblem,
} from "./common.ts";
import { intOption } from "./validate.ts";
import { modelMaxLength } from "./text_classification.ts";

/** Options of a fill-mask call. */
export interface FillMaskOptions extends BatchOptions {
  /** Predictions per mask, best first. Default 5. */
  topK?: number;
}

/** One candidate for a mask. */
export interface FillMaskResult {
  /** Its probability (softmax over the vocabulary). */
  score: number;
  /** Its token id. */
  token: number;
  /** The token decoded. */
  token_str: string;
  /** The input with the mask filled, decoded (special tokens dropped when there is one mask). */
  sequence: string;
}

/** Candidates of one input: a list for one mask, a list per mask for several (as transformers). */
export type FillMaskOutput = FillMaskResult[] | FillMaskResult[][];

/** A callable fill-mask pipeline. */
export interface FillMaskPipeline extends PipelineBase {
  /** Fills the mask(s) of one input. */
  (input: string, options?: FillMaskOptions): Promise<FillMaskOutput>;
  /** Fills the masks of many inputs; results in input order. */
  (inputs: readonly string[], options?: FillMaskOptions): Promise<FillMaskOutput[]>;
  /** Fills the masks of one or many inputs. */
  (input: string | readonly string[], options?: FillMaskOptions): Promise<FillMaskOutput | FillMaskOutput[]>;
  /** The task. */
  readonly task: "fill-mask";
  /** The model. */
  readonly model: MaskedLMModel;
  /** The tokenizer. */
  readonly tokenizer: Tokenizer;
  /** The mask token, e.g. `[MASK]`. */
  readonly maskToken: string;
}

export const CALL_KEYS = ["topK"] as const satisfies readonly (keyof FillMaskOptions)[];
const _callKeysComplete: Exclude<keyof FillMaskOptions, typeof CALL_KEYS[number] | keyof BatchOptions> extends
  never ? true : never = true;
void _callKeysComplete;

/** The `k` largest entries of `p`, best first (lower index first on ties). */
export function topKIndices(p: ArrayLike<number>, k: number): number[] {
  const n = Math.min(k, p.length);
  const best: number[] = [];
  for (let i = 0; i < p.length; i++) {
    if (best.length === n && p[i] <= p[best[n - 1]]) continue;
    let j = best.length < n ? best.length : n - 1;
    while (j > 0 && p[best[j - 1]] < p[i]) j--;
    best.splice(j, 0, i);
    if (best.length > n) best.pop();
  }
  return best;
}

/** Builds the pipeline around a loaded model and tokenizer. */
export function fillMaskPipeline(
  model: MaskedLMModel,
  tokenizer: Tokenizer,
  modelDir: string,
  maskToken: string,
  defaults: PipelineOptions,
): FillMaskPipeline {
  const maskId = tokenizer.tokenToId(maskToken);
  if (maskId === undefined) throw new Error(`${modelDir}: the tokenizer has no mask token ${maskToken}`);
  const padId = model.config.pad_token_id;
  const vocab = model.config.vocab_size;
  const maxLength = modelMaxLength(tokenizer, model.config.max_position_embeddings);

  async function call(
    input: string | readonly string[],
    call?: FillMaskOptions,
  ): Promise<FillMaskOutput | FillMaskOutput[]> {
    const { items, single } = asList<string>(input, stringProblem);
    const { options, settings } = callSettings(call, defaults, CALL_KEYS, "fill-mask");
    const topK = intOption("topK", options.topK, 1) ?? 5;
    const encodings: Encoding[] = items.map((text) =>
      tokenizer.encode(text, null, { truncation: true, maxLength })
    );
    const masks = encodings.map((enc, i) => {
      const at: number[] = [];
      enc.inputIds.forEach((id, s) => id === maskId && at.push(s));
      if (at.length === 0) {
        throw new PipelineInputError(
          single ? undefined : i,
          `no ${maskToken} token` +
            (enc.inputIds.length >= maxLength ? ` (or it was cut off at ${maxLength} tokens)` : ""),
        );
      }
      return at;
    });
    const out: FillMaskOutput[] = new Array(items.length);
    await runBatched(encodings, settings, padId, (batch) => {
      // The head runs at the masks only: their rows of the batch, in batch order.
      const positions = batch.rows.flatMap((r, b) => masks[r].map((s) => b * batch.seqLen + s));
      const { logits } = model.forwardAt(batch, positions);
      let row = 0;
      batch.rows.forEach((r) => {
        const ids = encodings[r].inputIds;
        const perMask = masks[r].map((s) => {
          const p = softmax(logits.data, row++ * vocab, vocab);
          return topKIndices(p, topK).map((token): FillMaskResult => {
            const filled = ids.slice();
            filled[s] = token;
            return {
              score: p[token],
              token,
              token_str: tokenizer.decode([token]),
              sequence: tokenizer.decode(filled.filter((id) => id !== padId), {
                skipSpecialTokens: masks[r].length === 1,
              }),
            };
          });
        });
        out[r] = perMask.length === 1 ? perMask[0] : perMask;
      });
    }, model.config.type_vocab_size > 0);
    return single ? out[0] : out;
  }

  return makeCallable<FillMaskPipeline>(
    call,
    { task: "fill-mask" as const, modelDir, model, tokenizer, maskToken },
    () => model.close(),
  );
}
