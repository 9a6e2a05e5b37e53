// Ours against the torch outputs the ONNX graphs were exported with: each model of the benchmark table (our
// synth-v1 checkpoint, bench/cases.ts) on OUT_DIR/<model>.parity.safetensors (a 2x16 sample with a padded
// row; BERT's with token types), written by torch_distilbert.py / torch_bert.py --export-onnx. So the two
// sides of the table are checked to compute the same thing directly, not only each against the HF refs.
//
//   deno run -A --config deno.json bench/peers/parity_ours.ts OUT_DIR [--models ...] [--dtype fp32|bf16|q8]
//
// fp32: max abs error over unmasked positions within the tests' tolerance (1e-5 small/minilm, 5e-5 base and
// bert-base); other dtypes: the lowest cosine of a token's vector (and the pooler's) must be >= 0.99, the
// bound ort_distilbert.mjs puts on ONNX Runtime's int8 graph. Exits 1 when a check fails.

import { parseArgs } from "node:util";
import { type FloatTensor, SafetensorsFile } from "../../mod.ts";
import { loadBenchModel, type ModelName, parseModels } from "../cases.ts";
import { parseDtype } from "../dtypes.ts";

const TOL: Record<ModelName, number> = { small: 1e-5, base: 5e-5, minilm: 1e-5, "bert-base": 5e-5 };
const MIN_COSINE = 0.99;

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    models: { type: "string", default: "small,base" },
    dtype: { type: "string", default: "fp32" },
    threads: { type: "string", default: "2" },
  },
});
const outDir = positionals[0];
if (!outDir) throw new Error("usage: parity_ours.ts OUT_DIR [--models ...] [--dtype fp32|bf16|q8]");
const models = parseModels(values.models!);
const dtype = parseDtype(values.dtype!);

/** Max abs difference and lowest row cosine over rows whose mask is 1 (all rows when mask is null). */
function compare(got: Float32Array, want: Float32Array, dim: number, mask: Int32Array | null) {
  let err = 0, cos = 1;
  for (let r = 0; r < got.length / dim; r++) {
    if (mask && mask[r] === 0) continue;
    let dot = 0, a = 0, b = 0;
    for (let j = r * dim; j < (r + 1) * dim; j++) {
      const d = Math.abs(got[j] - want[j]);
      if (!(d <= err)) err = d;
      dot += got[j] * want[j];
      a += got[j] * got[j];
      b += want[j] * want[j];
    }
    const c = dot / Math.sqrt(a * b);
    if (!(c >= cos)) cos = c;
  }
  return { err, cos };
}

let failed = false;
for (const name of models) {
  const path = `${outDir}/${name}.parity.safetensors`;
  const file = await SafetensorsFile.open(path).catch((e) => {
    throw new Error(`${path}: ${e.message} (written by torch_distilbert.py / torch_bert.py --export-onnx)`);
  });
  using model = await loadBenchModel(name, Number(values.threads), dtype);
  const shape = [...file.info("input_ids").shape];
  const mask = file.getBigInt64("attention_mask");
  const inputs = {
    inputIds: { data: file.getBigInt64("input_ids"), dims: shape },
    attentionMask: { data: mask, dims: shape },
    ...(file.tensors.has("token_type_ids")
      ? { tokenTypeIds: { data: file.getBigInt64("token_type_ids"), dims: shape } }
      : {}),
  };
  const out = model.forward(inputs);
  const checks: [string, FloatTensor | undefined, Int32Array | null][] = [
    ["last_hidden_state", out.lastHiddenState, Int32Array.from(mask, Number)],
  ];
  if (file.tensors.has("pooler_output")) checks.push(["pooler_output", out.poolerOutput, null]);
  for (const [key, got, rowMask] of checks) {
    if (!got) throw new Error(`${name}: our model gave no ${key}`);
    const { err, cos } = compare(got.data, file.getFloat32(key), got.dims[got.dims.length - 1], rowMask);
    const ok = dtype === "fp32" ? err <= TOL[name] : cos >= MIN_COSINE;
    failed ||= !ok;
    console.log(
      `[${name}] ours ${dtype} vs torch fp32 ${shape.join("x")} ${key}: max abs err ${
        err.toExponential(2)
      }, ` +
        `1 - min cosine ${(1 - cos).toExponential(2)} ` +
        `(${dtype === "fp32" ? `tol ${TOL[name]}` : `bound: cosine >= ${MIN_COSINE}`}) ${ok ? "ok" : "FAIL"}`,
    );
  }
}
if (failed) Deno.exit(1);
