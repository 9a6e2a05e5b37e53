// sentence-transformers prompts in feature-extraction: every pooling mode, with include_prompt true and false,
// against SentenceTransformer.encode's semantics (scripts/prompt_reference.py: transformers' BertModel and the
// Rust tokenizer on the MiniLM-shape checkpoint) for the folder's default prompt, a promptName, a literal
// prompt, "" and truncation; then the option errors and pairs.

import assert from "node:assert/strict";
import { SafetensorsFile } from "../mod.ts";
import { pipeline } from "../src/pipelines/mod.ts";
import type { FeatureExtractionPipeline } from "../src/pipelines/feature_extraction.ts";
import { PipelineInputError } from "../src/pipelines/common.ts";
import { promptTokenCount } from "../src/pipelines/prompts.ts";
import { POOLING_FLAGS, type PoolingMode, poolTokens } from "../src/pipelines/sentence_transformers.ts";
import { fixturePath, maxDiff } from "./helpers/reference.ts";
import { minilmDir, ST_MODULES, stFolder } from "./helpers/st_folder.ts";

/** One case of the reference (see scripts/prompt_reference.py). */
interface RefCase {
  name: string;
  modes: PoolingMode[];
  include_prompt: boolean;
  normalize: boolean;
  max_seq_length: number;
  options: { prompt?: string; promptName?: string };
  texts: string[];
  prompt_text: string;
  prompt_length: number;
}

// As the MiniLM-shape BertModel's hidden states against transformers (tests/bert_test.ts).
const TOL = 1e-5;

function folderFiles(c: RefCase, prompts: Record<string, string>, defaultPromptName: string) {
  const flags = Object.fromEntries(c.modes.map((m) => [POOLING_FLAGS[m], true]));
  return {
    "modules.json": c.normalize ? ST_MODULES : ST_MODULES.slice(0, 2),
    "1_Pooling/config.json": { word_embedding_dimension: 384, ...flags, include_prompt: c.include_prompt },
    "sentence_bert_config.json": { max_seq_length: c.max_seq_length, do_lower_case: false },
    "config_sentence_transformers.json": { prompts, default_prompt_name: defaultPromptName },
  };
}

async function sha256Hex(path: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(path)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("prompts: every pooling mode, include_prompt true and false, matches sentence-transformers' encode", async () => {
  const ref = await SafetensorsFile.open(fixturePath("models/bert-minilm/ref-prompts.safetensors"));
  // The weights are the ones the reference was computed from.
  assert.equal(await sha256Hex(`${await minilmDir()}/model.safetensors`), ref.metadata["model.sha256"]);
  const cases = JSON.parse(ref.metadata.cases) as RefCase[];
  const prompts = JSON.parse(ref.metadata.prompts) as Record<string, string>;
  const pipes = new Map<string, { fe: FeatureExtractionPipeline; dir: string }>();
  const outputs = new Map<string, Float32Array[]>();
  const lines: string[] = [];
  try {
    for (const c of cases) {
      const key = JSON.stringify([c.modes, c.include_prompt, c.normalize, c.max_seq_length]);
      if (!pipes.has(key)) {
        const dir = await stFolder(folderFiles(c, prompts, ref.metadata.default_prompt_name));
        pipes.set(key, { fe: await pipeline("feature-extraction", dir, { threads: 1 }), dir });
      }
      const { fe } = pipes.get(key)!;
      assert.deepEqual(fe.prompts, prompts);
      assert.equal(fe.defaultPromptName, "query");
      // The same tokens as the reference (prompt + text, truncated) and the same prompt length.
      const [B, S] = ref.info(`${c.name}.input_ids`).shape;
      const ids = ref.getBigInt64(`${c.name}.input_ids`), mask = ref.getInt32(`${c.name}.attention_mask`);
      const truncate = { truncation: true, maxLength: c.max_seq_length };
      c.texts.forEach((t, b) => {
        const n = mask.subarray(b * S, (b + 1) * S).reduce((s, m) => s + m, 0);
        const want = Array.from(ids.subarray(b * S, b * S + n), Number);
        assert.deepEqual(fe.tokenizer.encode(c.prompt_text + t, null, truncate).inputIds, want, c.name);
      });
      const length = c.prompt_text ? promptTokenCount(fe.tokenizer, c.prompt_text, truncate) : 0;
      assert.equal(length, c.prompt_length, `${c.name} prompt length`);

      const got = await fe(c.texts, c.options);
      const width = 384 * c.modes.length;
      const flat = new Float32Array(B * width);
      got.forEach((t, b) => {
        assert.deepEqual(t.dims, [1, width]);
        flat.set(t.data, b * width);
      });
      const d = maxDiff({ data: flat, dims: [B, width] }, {
        data: ref.getFloat32(c.name),
        dims: [...ref.info(c.name).shape],
      });
      lines.push(`${c.name} ${c.modes.join("+")} include=${c.include_prompt} ${d.toExponential(2)}`);
      assert.ok(d <= TOL, `${c.name} (${JSON.stringify(c)}): ${d}`);
      outputs.set(
        JSON.stringify([c.modes, c.include_prompt, c.options, c.max_seq_length]),
        got.map((t) => t.data),
      );
    }
    console.log(`  ${lines.join("\n  ")}`);
    // include_prompt false really leaves the prompt out (else these comparisons could not fail): the modes
    // that average or take a maximum move; cls (the first token, which sentence-transformers reads without the
    // mask) and lasttoken (the final [SEP], after the prompt) stay as they were.
    let compared = 0;
    for (const c of cases) {
      if (c.include_prompt || !c.prompt_text || c.max_seq_length !== 512) continue;
      const other = outputs.get(JSON.stringify([c.modes, true, c.options, c.max_seq_length]));
      if (!other) continue;
      const mine = outputs.get(JSON.stringify([c.modes, false, c.options, c.max_seq_length]))!;
      mine.forEach((v, b) => {
        const d = maxDiff({ data: v, dims: [v.length] }, { data: other[b], dims: [v.length] });
        const same = c.modes.join() === "cls" || c.modes.join() === "lasttoken";
        if (same) assert.equal(d, 0, `${c.name}: ${c.modes} is the same token either way`);
        else assert.ok(d > 1e-3, `${c.name} row ${b}: include_prompt made no difference (${d})`);
      });
      compared++;
    }
    assert.ok(compared >= 12, `${compared} include_prompt pairs compared`);
  } finally {
    for (const { fe, dir } of pipes.values()) {
      fe.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  }
});

const PROMPTS = { query: "query: ", passage: "passage: " };

Deno.test('prompts: the default prompt, promptName and prompt are one thing; "" turns the default off', async () => {
  const dir = await stFolder({
    "modules.json": ST_MODULES,
    "1_Pooling/config.json": { word_embedding_dimension: 384, pooling_mode_mean_tokens: true },
    "config_sentence_transformers.json": { prompts: PROMPTS, default_prompt_name: "query" },
  });
  try {
    using fe = await pipeline("feature-extraction", dir, { threads: 1 });
    const texts = ["how old is the moon", "Hello"];
    const data = async (x: string[], o = {}) => (await fe(x, o)).map((t) => Array.from(t.data));
    const byDefault = await data(texts);
    assert.deepEqual(await data(texts, { promptName: "query" }), byDefault);
    assert.deepEqual(await data(texts, { prompt: "query: " }), byDefault);
    assert.deepEqual(await data(texts.map((t) => "query: " + t), { prompt: "" }), byDefault);
    const none = await data(texts, { prompt: "" });
    assert.notDeepEqual(none, byDefault);
    assert.deepEqual(
      await data(texts.map((t) => "passage: " + t), { prompt: "" }),
      await data(texts, { promptName: "passage" }),
    );
    // One text gives one tensor, prompted the same way.
    assert.deepEqual(Array.from((await fe(texts[0])).data), byDefault[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prompts: clear errors for a bad promptName, both options, non-strings, and pairs", async () => {
  const dir = await stFolder({
    "modules.json": ST_MODULES,
    "1_Pooling/config.json": { word_embedding_dimension: 384, pooling_mode_mean_tokens: true },
    "config_sentence_transformers.json": { prompts: PROMPTS, default_prompt_name: "query" },
  });
  const plain = await stFolder({});
  try {
    using fe = await pipeline("feature-extraction", dir, { threads: 1 });
    await assert.rejects(
      fe("x", { promptName: "document" }),
      (e: Error) =>
        e instanceof RangeError &&
        e.message ===
          `promptName "document" is not one of this model's prompts (config_sentence_transformers.json; prompts: "query", "passage")`,
    );
    await assert.rejects(
      fe("x", { prompt: "q: ", promptName: "query" }),
      /give prompt .* or promptName .*, not both/,
    );
    await assert.rejects(
      fe("x", { prompt: 3 as never }),
      (e: Error) => e instanceof TypeError && /prompt must be a string, got number 3/.test(e.message),
    );
    await assert.rejects(fe("x", { promptName: null as never }), /promptName must be a string, got null/);
    // A pair has no one place for a prompt: an error naming the input, unless the prompt is turned off.
    await assert.rejects(
      fe(["a", { text: "b", textPair: "c" }]),
      (e: Error) =>
        e instanceof PipelineInputError && e.index === 1 &&
        /input 1: a prompt \("query: "\) applies to single texts, not \{ text, textPair \} pairs; pass prompt: "" /
          .test(e.message),
    );
    await assert.rejects(fe({ text: "b", textPair: "c" }), /^PipelineInputError: the input: a prompt/);
    const pair = await fe({ text: "b", textPair: "c" }, { prompt: "" });
    assert.deepEqual(pair.dims, [1, 384]);

    // A folder that is not a sentence-transformers one has no prompts, but a literal prompt still prepends.
    using bare = await pipeline("feature-extraction", plain, { threads: 1 });
    assert.deepEqual(bare.prompts, {});
    assert.equal(bare.defaultPromptName, undefined);
    await assert.rejects(
      bare("x", { promptName: "query" }),
      /promptName "query" is not one of this model's prompts \(it is not a sentence-transformers folder; prompts: none\)/,
    );
    assert.deepEqual(
      (await bare("hello", { prompt: "query: ", pooling: "mean" })).data,
      (await bare("query: hello", { pooling: "mean" })).data,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(plain, { recursive: true });
  }
});

Deno.test("prompts: pooling over a mask the prompt emptied gives what sentence-transformers gives", () => {
  // A tokenizer without a final special token can leave no token to pool: sentence-transformers then gives
  // cls the first token, max -1e9, the means 0 and lasttoken the zero vector (the gathered token times its mask).
  const h = new Float32Array([1, 2, 3, 4, 5, 6]); // 3 tokens x 2
  const mask = [0, 0, 0];
  assert.deepEqual(Array.from(poolTokens(h, 2, mask, ["cls"])), [1, 2]);
  assert.deepEqual(Array.from(poolTokens(h, 2, mask, ["max"])), [-1e9, -1e9]);
  for (const mode of ["mean", "mean_sqrt_len", "weightedmean", "lasttoken"] as const) {
    assert.deepEqual(Array.from(poolTokens(h, 2, mask, [mode])), [0, 0], mode);
  }
  // The prompt masked, the rest pooled: lasttoken is still the last real token.
  assert.deepEqual(Array.from(poolTokens(h, 2, [0, 1, 0], ["lasttoken", "mean"])), [3, 4, 3, 4]);
});
