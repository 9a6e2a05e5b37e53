// The Transformers.js dtypes the peer scripts take, and the file each loads from the model folder.

/** Transformers.js's dtype -> the ONNX file it loads (onnx/model.onnx, onnx/model_quantized.onnx). */
export const TJS_FILES = { fp32: "onnx/model.onnx", q8: "onnx/model_quantized.onnx" } as const;
export type TjsDtype = keyof typeof TJS_FILES;

/** Checks `--dtype` and that the folder has its file, so a missing export is named rather than fetched. */
export function parseTjsDtype(value: string, folder: string): TjsDtype {
  if (!Object.hasOwn(TJS_FILES, value)) {
    throw new Error(`--dtype must be one of ${Object.keys(TJS_FILES).join(", ")}, got "${value}"`);
  }
  const dtype = value as TjsDtype;
  const file = `${folder.replace(/\/$/, "")}/${TJS_FILES[dtype]}`;
  try {
    Deno.statSync(file);
  } catch {
    const how = dtype === "q8"
      ? "bench/peers/quantize_onnx.py <folder>/onnx/model.onnx <folder>/onnx/model_quantized.onnx"
      : "bench/peers/export_tjs.py";
    throw new Error(`${file}: not found (--dtype ${dtype}; written by ${how})`);
  }
  return dtype;
}
