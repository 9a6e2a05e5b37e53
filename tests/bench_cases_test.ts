// The benchmark table's models and options (bench/cases.ts) and the peers' table (bench/peers/compare.ts):
// the BERT shapes load as BertModel with the shapes of issue 15, a typo in --models or --dtype is an error
// naming it, and ours q8 shares a row with ONNX Runtime's int8. Nothing here is timed.

import assert from "node:assert/strict";
import { BertModel, DistilBertModel } from "../mod.ts";
import { benchInputs, forwardFlops, loadBenchModel, parseModels } from "../bench/cases.ts";
import { parseDtype } from "../bench/dtypes.ts";
import { parseLines, precision, table } from "../bench/peers/compare.ts";

Deno.test("bench models: minilm and bert-base are BERT encoders of issue 15's shapes, small/base DistilBERT", async () => {
  using small = await loadBenchModel("small", 1);
  assert.ok(small instanceof DistilBertModel);
  using minilm = await loadBenchModel("minilm", 1);
  assert.ok(minilm instanceof BertModel);
  assert.equal(minilm.hasPooler, true);
  const c = minilm.config;
  assert.deepEqual([c.dim, c.n_layers, c.n_heads, c.hidden_dim], [384, 6, 12, 1536]);
  // forwardFlops reads the BERT sizes through the shared names: 6 layers x (4 D^2 + 2 D H) x 2 T + attention
  const T = 32, D = 384, H = 1536;
  assert.equal(forwardFlops(c, 1, T), 6 * (2 * T * D * 4 * D + 4 * T * D * H + 4 * T * T * D));
  const out = minilm.forward(benchInputs(c, 2, 8));
  assert.deepEqual(out.lastHiddenState.dims, [2, 8, 384]);
  assert.deepEqual(out.poolerOutput!.dims, [2, 384]);
});

Deno.test("bench options: --models and --dtype typos are errors naming the value", () => {
  assert.deepEqual(parseModels("small,bert-base"), ["small", "bert-base"]);
  assert.throws(
    () => parseModels("small,mini"),
    /--models: unknown model "mini" \(known: small, base, minilm, bert-base\)/,
  );
  assert.equal(parseDtype("q8"), "q8");
  assert.throws(() => parseDtype("int8"), /--dtype must be one of fp32, bf16, q8, got "int8"/);
});

Deno.test("peers table: ours q8 and ONNX Runtime int8 share a row, apart from fp32", () => {
  const rows = parseLines([
    `{"peer":"denobert","model":"base","dtype":"fp32","batch":1,"seq":32,"median_ms":10}`,
    `{"peer":"denobert","model":"base","dtype":"q8","batch":1,"seq":32,"median_ms":4}`,
    `{"peer":"onnxruntime","model":"base","dtype":"fp32","batch":1,"seq":32,"median_ms":12}`,
    `{"peer":"onnxruntime","model":"base","dtype":"int8","batch":1,"seq":32,"median_ms":6}`,
    `{"peer":"onnxruntime","model":"minilm","batch":1,"seq":32,"median_ms":3}`,
  ].join("\n"));
  assert.equal(rows.length, 5);
  assert.deepEqual(rows.map(precision), ["fp32", "int8", "fp32", "int8", "fp32"]);
  const lines = table(rows).split("\n");
  assert.match(
    lines[0],
    /\| model \| dtype \| batch x seq \| denobert ms \| onnxruntime ms \| onnxruntime \/ ours \|/,
  );
  assert.ok(lines.includes("| base | fp32 | 1x32 | 10.00 | 12.00 | 1.20x |"), lines.join("\n"));
  assert.ok(lines.includes("| base | q8 / int8 | 1x32 | 4.000 | 6.000 | 1.50x |"), lines.join("\n"));
  assert.ok(lines.includes("| minilm | fp32 | 1x32 | - | 3.000 | - |"), lines.join("\n"));
});
