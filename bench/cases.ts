// What the benchmarks share: the batch x sequence table, the models (synth-v1 weights), FLOP counts, and a
// measured sgemm peak to compare against.

import { BertModel, DistilBertModel, type EncoderModel, type LoadOptions } from "../mod.ts";
import { Backend, type Dtype } from "../src/backend.ts";
import type { EncoderConfig } from "../src/config.ts";
import { ensureSynthFromConfig, ensureSynthModel } from "../tests/helpers/synth_cache.ts";
import { median } from "./median.ts";

export { median };

/**
 * small = the fixtures' tiny DistilBERT config (dim 32, 5 layers), the seed benchmark's small model; base =
 * distilbert-base; minilm = BERT in the all-MiniLM-L6-v2 shape (384, 6 layers, 12 heads, FFN 1536);
 * bert-base = BERT base (768, 12 layers, 12 heads, FFN 3072). All synth-v1 weights, the bare encoder (BERT's
 * with its pooler, as the ONNX Runtime peer's graph).
 */
export type ModelName = "small" | "base" | "minilm" | "bert-base";
export const MODEL_NAMES: readonly ModelName[] = ["small", "base", "minilm", "bert-base"];
export const TABLE: [number, number][] = [[1, 32], [1, 128], [8, 32], [8, 128]];

const bertShape = (shape: string) =>
  ensureSynthFromConfig(
    new URL(`../tests/fixtures/models/${shape}/config.model.json`, import.meta.url).pathname,
    `${shape}-model`,
  );
// The DistilBERT checkpoints are the masked-LM fixtures' (their head is not loaded); the BERT ones are in the
// cache folders tests/bert_test.ts and bench/peers/torch_bert.py use.
const CHECKPOINTS: Record<ModelName, (options: LoadOptions) => Promise<EncoderModel>> = {
  small: async (o) => await DistilBertModel.load(await ensureSynthModel("tiny", "mlm"), o),
  base: async (o) => await DistilBertModel.load(await ensureSynthModel("base", "mlm"), o),
  minilm: async (o) => await BertModel.load(await bertShape("bert-minilm"), o),
  "bert-base": async (o) => await BertModel.load(await bertShape("bert-base"), o),
};

/** Checks a comma list of model names (a typo must not silently bench nothing). */
export function parseModels(list: string, option = "--models"): ModelName[] {
  return list.split(",").map((m) => {
    if (!(MODEL_NAMES as readonly string[]).includes(m)) {
      throw new Error(`${option}: unknown model "${m}" (known: ${MODEL_NAMES.join(", ")})`);
    }
    return m as ModelName;
  });
}

/** Loads a benchmark model in `dtype` (the `dtype` load option). */
export async function loadBenchModel(
  name: ModelName,
  threads?: number,
  dtype: Dtype = "fp32",
): Promise<EncoderModel> {
  return await CHECKPOINTS[name]({ threads, dtype });
}

/** Deterministic ids in [1000, vocab) with a full mask, as the peers use. */
export function benchInputs(config: EncoderConfig, batch: number, seq: number) {
  const ids = new Int32Array(batch * seq);
  let s = 12345;
  for (let i = 0; i < ids.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    ids[i] = s % config.vocab_size;
  }
  return { inputIds: { data: ids, dims: [batch, seq] } };
}

/** Multiply-adds x 2 of one encoder forward on B full sequences of S tokens (BERT's pooler not counted). */
export function forwardFlops(c: EncoderConfig, batch: number, seq: number): number {
  const T = batch * seq, D = c.dim, H = c.hidden_dim;
  const linear = 2 * T * D * (3 * D) + 2 * T * D * D + 2 * 2 * T * D * H;
  const attention = 2 * 2 * batch * seq * seq * D; // QK^T and PV over all heads
  return c.n_layers * (linear + attention);
}

/** Median ms of `fn` over `runs` calls after `warmup` calls, stopping early after `budgetMs`. */
export function timeMedian(fn: () => void, runs: number, warmup = 3, budgetMs = 20_000): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
    if (performance.now() - start > budgetMs && times.length >= 5) break;
  }
  return median(times);
}

/** The sgemm of the peak measurement: 1024x3072x768 (the base FFN at 8x128) through OpenBLAS. */
export function sgemmPeakCase(be: Backend): { run: () => void; flops: number } {
  const M = 1024, N = 3072, K = 768;
  const a = new Float32Array(M * K).fill(0.01),
    b = new Float32Array(N * K).fill(0.02),
    c = new Float32Array(M * N);
  return { run: () => be.matmulTransposed(a, b, c, M, N, K), flops: 2 * M * N * K };
}

/** sgemm GFLOP/s at 1024x3072x768 (the shape of the base FFN at 8x128), median of runs. */
export async function measureSgemmPeak(
  threads?: number,
): Promise<{ gflops: number; coreName: string | null }> {
  using be = await Backend.open({ threads });
  const M = 1024, N = 3072, K = 768;
  const a = new Float32Array(M * K).fill(0.01),
    b = new Float32Array(N * K).fill(0.02),
    c = new Float32Array(M * N);
  const ms = timeMedian(() => be.matmulTransposed(a, b, c, M, N, K), 30, 5);
  return { gflops: (2 * M * N * K) / (ms * 1e6), coreName: be.blasInfo().coreName };
}
