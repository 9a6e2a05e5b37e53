import assert from "node:assert/strict";
import { DistilBertForMaskedLM } from "../src/heads.ts";
import { SafetensorsFile } from "../src/safetensors.ts";
import type { FloatTensor, IntTensor } from "../src/tensor.ts";
import { fixturePath, maxDiffUnpadded } from "./helpers/reference.ts";

// tests/fixtures/models/tied (scripts/tied_weights_reference.py): the tiny MaskedLM checkpoint holding both
// distilbert.embeddings.word_embeddings.weight and a vocab_projector.weight of other values, and transformers
// 4.31's outputs for it loaded tied (as config.json says) and with tie_word_embeddings false.
const DIR = fixturePath("models/tied");
const TOL = 1e-5; // the tiny model's float32 tolerance (tests/heads_test.ts)

function reference(): { ids: IntTensor; mask: IntTensor; get: (name: string) => FloatTensor } {
  const ref = SafetensorsFile.parse(Deno.readFileSync(`${DIR}/ref.safetensors`), "ref");
  const int = (name: string): IntTensor => ({ data: ref.getInt32(name), dims: [...ref.info(name).shape] });
  return {
    ids: int("input_ids"),
    mask: int("attention_mask"),
    get: (name) => ({ data: ref.getFloat32(name), dims: [...ref.info(name).shape] }),
  };
}

/** The fixture folder with config.json changed by `edit`, in a temporary folder. */
async function withConfig(edit: (c: Record<string, unknown>) => void, run: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "denobert-tied-" });
  try {
    const config = JSON.parse(await Deno.readTextFile(`${DIR}/config.json`));
    edit(config);
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
    await Deno.copyFile(`${DIR}/model.safetensors`, `${dir}/model.safetensors`);
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const [label, tie] of [["tied", undefined], ["untied", false]] as const) {
  Deno.test(`MLM checkpoint with vocab_projector.weight stored apart from the embeddings, ${label}: as transformers`, async () => {
    const { ids, mask, get } = reference();
    await withConfig((c) => {
      if (tie !== undefined) c.tie_word_embeddings = tie;
    }, async (dir) => {
      using model = await DistilBertForMaskedLM.load(dir);
      const { logits } = model.forward({ inputIds: ids, attentionMask: mask });
      const d = maxDiffUnpadded(logits, get(`${label}.logits`), mask);
      assert.ok(d < TOL, `logits differ from transformers by ${d}`);
    });
  });
}
