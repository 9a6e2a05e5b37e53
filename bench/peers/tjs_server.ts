// The naive server a Transformers.js user writes: Deno.serve around its text-classification pipeline, one
// request at a time, on the embedded SST-2 model exported by export_tjs.py (same weights, same tokenizer).
// Accepts /predict's body ({"inputs": string, "truncate"?}) and answers every label, best first, so
// bench/serve.ts can load it as it loads ours.
//
//   deno run -A --no-lock bench/peers/tjs_server.ts <model folder> [port] [--dtype fp32|q8]
//
// --dtype q8 is Transformers.js's own option: it loads onnx/model_quantized.onnx (quantize_onnx.py writes it).

import { parseArgs } from "node:util";
import { env, pipeline } from "@huggingface/transformers";
import { parseTjsDtype } from "./tjs_dtype.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { dtype: { type: "string", default: "fp32" } },
});
const [folder, port = "0"] = positionals;
if (!folder) throw new Error("usage: tjs_server.ts <model folder> [port] [--dtype fp32|q8]");
const dtype = parseTjsDtype(values.dtype!, folder);
env.allowRemoteModels = false;
env.localModelPath = folder.replace(/[^/]+\/?$/, "");
const name = folder.replace(/\/$/, "").split("/").pop()!;
const classify = await pipeline("text-classification", name, { dtype });

const server = Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen: () => {} }, async (req) => {
  const { inputs } = await req.json();
  const out = await classify(inputs, { top_k: null });
  return Response.json(out);
});
console.log(`tjs: http://127.0.0.1:${server.addr.port} (dtype ${dtype})`);
