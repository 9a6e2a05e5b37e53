// The naive server a Transformers.js user writes: Deno.serve around its text-classification pipeline, one
// request at a time, on the embedded SST-2 model exported by export_tjs.py (same weights, same tokenizer).
// Accepts /predict's body ({"inputs": string, "truncate"?}) and answers every label, best first, so
// bench/serve.ts can load it as it loads ours.
//
//   deno run -A --no-lock bench/peers/tjs_server.ts <model folder> [port]

import { env, pipeline } from "@huggingface/transformers";

const [folder, port = "0"] = Deno.args;
env.allowRemoteModels = false;
env.localModelPath = folder.replace(/[^/]+\/?$/, "");
const name = folder.replace(/\/$/, "").split("/").pop()!;
const classify = await pipeline("text-classification", name, { dtype: "fp32" });

const server = Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen: () => {} }, async (req) => {
  const { inputs } = await req.json();
  const out = await classify(inputs, { top_k: null });
  return Response.json(out);
});
console.log(`tjs: http://127.0.0.1:${server.addr.port}`);
