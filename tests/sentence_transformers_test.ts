// sentence-transformers folders: each pooling mode against sentence-transformers' formulas in torch (in
// scripts/bert_reference.py, on the MiniLM-shape BertModel, a padded batch), and the feature-extraction pipeline
// taking a folder's pooling, Normalize, max_seq_length and do_lower_case as its defaults.

import assert from "node:assert/strict";
import { BertModel, type FloatTensor, SafetensorsFile } from "../mod.ts";
import { pipeline } from "../src/pipelines/mod.ts";
import { normalizeInPlace } from "../src/pipelines/feature_extraction.ts";
import {
  POOLING_MODES,
  poolTokens,
  readSentenceTransformersConfig,
} from "../src/pipelines/sentence_transformers.ts";
import { modelPooling } from "../src/server/pooling.ts";
import { fixturePath, maxDiff } from "./helpers/reference.ts";
import { minilmDir as synthDir, stFolder } from "./helpers/st_folder.ts";

Deno.test("every pooling mode matches sentence-transformers' Pooling on padded rows (MiniLM shape)", async () => {
  using model = await BertModel.load(await synthDir());
  for (const c of ["b1-s32", "b2-s16"]) {
    const file = await SafetensorsFile.open(fixturePath(`models/bert-minilm/ref-${c}.safetensors`));
    const [B, S] = file.info("input_ids").shape;
    const mask = file.getInt32("attention_mask");
    const { lastHiddenState } = model.forward({
      inputIds: { data: file.getBigInt64("input_ids"), dims: [B, S] },
      attentionMask: { data: mask, dims: [B, S] },
      tokenTypeIds: { data: file.getBigInt64("token_type_ids"), dims: [B, S] },
    });
    const D = model.config.dim;
    const line: string[] = [];
    for (const mode of POOLING_MODES) {
      const got = new Float32Array(B * D);
      for (let b = 0; b < B; b++) {
        const hidden = lastHiddenState.data.subarray(b * S * D, (b + 1) * S * D);
        got.set(poolTokens(hidden, D, mask.subarray(b * S, (b + 1) * S), [mode]), b * D);
      }
      const ref: FloatTensor = {
        data: file.getFloat32(`st.${mode}`),
        dims: [...file.info(`st.${mode}`).shape],
      };
      const d = maxDiff({ data: got, dims: [B, D] }, ref);
      line.push(`${mode} ${d.toExponential(2)}`);
      assert.ok(d <= 1e-5, `${c} ${mode}: ${d}`);
    }
    console.log(`  ${c}: ${line.join(", ")}`);
  }
  // Several modes concatenate in sentence-transformers' order.
  const h = new Float32Array([1, 2, 3, 4, 5, 6]); // 3 tokens x 2
  assert.deepEqual(Array.from(poolTokens(h, 2, [1, 1, 0], ["cls", "max", "lasttoken"])), [1, 2, 3, 4, 3, 4]);
});

const MODULES = [
  { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
  { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
  { idx: 2, name: "2", path: "2_Normalize", type: "sentence_transformers.models.Normalize" },
];
const pool = (mode: string) => ({ word_embedding_dimension: 384, [`pooling_mode_${mode}`]: true });

Deno.test("feature-extraction on a sentence-transformers folder uses its pooling, Normalize and max length", async () => {
  const dir = await stFolder({
    "modules.json": MODULES,
    "1_Pooling/config.json": pool("weightedmean_tokens"),
    "sentence_bert_config.json": { max_seq_length: 6, do_lower_case: true },
  });
  try {
    using fe = await pipeline("feature-extraction", dir);
    const text = "Hello World, this is a sentence that is longer than six tokens";
    const got = await fe(text);
    // By hand: lowercased, truncated to 6 tokens, weighted mean, unit norm.
    const enc = fe.tokenizer.encode(text.toLowerCase(), null, { truncation: true, maxLength: 6 });
    assert.equal(enc.inputIds.length, 6);
    const hidden = fe.model.forward({ inputIds: { data: Int32Array.from(enc.inputIds), dims: [1, 6] } });
    const want = poolTokens(hidden.lastHiddenState.data, 384, enc.attentionMask, ["weightedmean"]);
    normalizeInPlace(want);
    assert.deepEqual(got.dims, [1, 384]);
    assert.deepEqual(got.data, want);
    // The caller's options override the folder's.
    const cls = await fe(text, { pooling: "cls", normalize: false });
    assert.deepEqual(cls.data, hidden.lastHiddenState.data.slice(0, 384));
    // Token embeddings as sentence-transformers gives them (output_value="token_embeddings"): its Normalize
    // module scales the sentence embedding only, so the folder's Normalize does not apply to them; asked
    // for, normalize still scales every token vector.
    const tokens = await fe(text, { pooling: "none" });
    assert.deepEqual(tokens.dims, [1, 6, 384]);
    assert.deepEqual(tokens.data, hidden.lastHiddenState.data);
    const unit = await fe(text, { pooling: "none", normalize: true });
    const first = hidden.lastHiddenState.data.slice(0, 384);
    normalizeInPlace(first);
    assert.deepEqual(unit.data.subarray(0, 384), first);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sentence-transformers config: modes, defaults, and clear errors", async () => {
  const cases: [Record<string, unknown>, RegExp | Record<string, unknown>][] = [
    [
      { "modules.json": MODULES.slice(0, 2), "1_Pooling/config.json": pool("mean_tokens") },
      { pooling: ["mean"], normalize: false, doLowerCase: false, prompts: {}, includePrompt: true },
    ],
    [
      {
        "modules.json": MODULES,
        "1_Pooling/config.json": { ...pool("max_tokens"), pooling_mode_cls_token: true },
        "sentence_bert_config.json": { max_seq_length: 256, do_lower_case: false },
      },
      {
        pooling: ["cls", "max"],
        normalize: true,
        doLowerCase: false,
        maxSeqLength: 256,
        prompts: {},
        includePrompt: true,
      },
    ],
    [
      {
        "modules.json": [...MODULES.slice(0, 2), {
          idx: 2,
          name: "2",
          path: "2_Dense",
          type: "sentence_transformers.models.Dense",
        }],
      },
      /modules Transformer -> Pooling -> Dense are not supported/,
    ],
    [
      { "modules.json": MODULES, "1_Pooling/config.json": { word_embedding_dimension: 384 } },
      /no pooling_mode_\* is true/,
    ],
    [{ "modules.json": MODULES }, /1_Pooling\/config\.json: missing or not a JSON object/],
    [
      {
        "modules.json": MODULES,
        "1_Pooling/config.json": { ...pool("mean_tokens"), include_prompt: false },
        "config_sentence_transformers.json": {
          prompts: { query: "query: ", passage: "passage: " },
          default_prompt_name: "query",
        },
      },
      {
        pooling: ["mean"],
        normalize: true,
        doLowerCase: false,
        prompts: { query: "query: ", passage: "passage: " },
        defaultPromptName: "query",
        includePrompt: false,
      },
    ],
    [
      {
        "modules.json": MODULES,
        "1_Pooling/config.json": pool("mean_tokens"),
        "config_sentence_transformers.json": { prompts: { query: "query: " }, default_prompt_name: null },
      },
      {
        pooling: ["mean"],
        normalize: true,
        doLowerCase: false,
        prompts: { query: "query: " },
        includePrompt: true,
      },
    ],
    [
      {
        "modules.json": MODULES,
        "1_Pooling/config.json": pool("mean_tokens"),
        "config_sentence_transformers.json": {
          prompts: { query: "query: " },
          default_prompt_name: "passage",
        },
      },
      /config_sentence_transformers\.json: default_prompt_name "passage" is not one of its prompts \(prompts: "query"\)/,
    ],
    [
      {
        "modules.json": MODULES,
        "1_Pooling/config.json": pool("mean_tokens"),
        "config_sentence_transformers.json": { default_prompt_name: "query" },
      },
      /default_prompt_name "query" is not one of its prompts \(prompts: none\)/,
    ],
    [
      {
        "modules.json": MODULES,
        "1_Pooling/config.json": pool("mean_tokens"),
        "config_sentence_transformers.json": { prompts: ["query: "] },
      },
      /config_sentence_transformers\.json: "prompts" must be an object of name: text/,
    ],
    [
      {
        "modules.json": MODULES,
        "1_Pooling/config.json": pool("mean_tokens"),
        "config_sentence_transformers.json": { prompts: { query: 1 } },
      },
      /prompt "query" must be a string, got 1/,
    ],
    [
      {
        "modules.json": MODULES,
        "1_Pooling/config.json": pool("mean_tokens"),
        "config_sentence_transformers.json": [],
      },
      /config_sentence_transformers\.json: expected a JSON object/,
    ],
    [
      {
        "modules.json": MODULES,
        "1_Pooling/config.json": { ...pool("mean_tokens"), include_prompt: "no" },
      },
      /1_Pooling\/config\.json: "include_prompt" must be true or false/,
    ],
    [
      {
        "modules.json": MODULES,
        "1_Pooling/config.json": pool("mean_tokens"),
        "sentence_bert_config.json": { max_seq_length: 0 },
      },
      /"max_seq_length" must be a positive integer/,
    ],
  ];
  for (const [files, want] of cases) {
    const dir = await Deno.makeTempDir();
    try {
      for (const [name, content] of Object.entries(files)) {
        const path = `${dir}/${name}`;
        await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
        await Deno.writeTextFile(path, JSON.stringify(content));
      }
      if (want instanceof RegExp) await assert.rejects(readSentenceTransformersConfig(dir), want);
      else assert.deepEqual(await readSentenceTransformersConfig(dir), want);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  const plain = await Deno.makeTempDir();
  assert.equal(await readSentenceTransformersConfig(plain), null);
  await Deno.remove(plain);
});

Deno.test("the server's pooling comes from the same reader (every mode; several only with modules.json)", async () => {
  const folder = async (files: Record<string, unknown>) => {
    const dir = await Deno.makeTempDir();
    for (const [name, content] of Object.entries(files)) {
      await Deno.mkdir(`${dir}/${name.slice(0, name.lastIndexOf("/"))}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${name}`, JSON.stringify(content));
    }
    return dir;
  };
  const cases: [Record<string, unknown>, string[] | RegExp][] = [
    [{}, ["mean"]],
    [{ "1_Pooling/config.json": pool("cls_token") }, ["cls"]],
    [{ "1_Pooling/config.json": pool("lasttoken") }, ["lasttoken"]],
    [{ "modules.json": MODULES, "1_Pooling/config.json": pool("mean_tokens") }, ["mean"]],
    [{ "modules.json": MODULES, "1_Pooling/config.json": pool("max_tokens") }, ["max"]],
    [
      {
        "modules.json": MODULES,
        "1_Pooling/config.json": { ...pool("cls_token"), pooling_mode_max_tokens: true },
      },
      ["cls", "max"],
    ],
    [
      { "1_Pooling/config.json": { ...pool("cls_token"), pooling_mode_max_tokens: true } },
      /asks for 2 pooling modes \(cls, max\): without modules.json the server takes exactly one/,
    ],
  ];
  for (const [files, want] of cases) {
    const dir = await folder(files);
    try {
      if (want instanceof RegExp) await assert.rejects(modelPooling(dir), want);
      else assert.deepEqual(await modelPooling(dir), want);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});
