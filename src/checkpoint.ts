/**
 * Opening a Hugging Face checkpoint folder: `config.json` + `model.safetensors`.
 *
 * @module
 */

import { loadConfig, type ModelConfig } from "./config.ts";
import { SafetensorsFile } from "./safetensors.ts";
import { alignedBytes, bestLineStart } from "./aligned.ts";
import { Backend } from "./backend.ts";
import { regularFile } from "./fs/read.ts";
import { exists } from "./fs/write.ts";

/** A checkpoint folder's config and weights file, read but not yet turned into a model. */
export interface Checkpoint {
  /** The checkpoint folder, as given. */
  dir: string;
  /** The validated `config.json`. */
  config: ModelConfig;
  /** `model.safetensors`, opened and its header validated. */
  file: SafetensorsFile;
}

// Files read by a model's own `load(dir)`: no one else holds them, so their weights may be rearranged in
// place at load (src/weights.ts) instead of copied.
const exclusiveFiles = new WeakSet<SafetensorsFile>();

/** Whether nothing outside this library can see `file`'s bytes (so they may be rewritten in place). */
export function isExclusive(file: SafetensorsFile): boolean {
  return exclusiveFiles.has(file);
}

/**
 * `openCheckpoint` for a model's own `load(dir)`: the returned checkpoint must not be handed to users.
 *
 * In fp32 the file is placed so that its tensors (all but a few small ones) start on 64-byte lines, and the
 * weights buffer is asked to sit on 2 MB pages (Linux): every forward pass streams all of it, and on 4 KB
 * pages the base model's 170 MB of linear weights span 43,000 TLB entries (measured: base forward 3% faster
 * at batch 1). Best effort: without the kernel library the model's own open reports why.
 * In bf16 / q8 (`options.dtype`) the file is read per tensor instead: the linear weights are converted at
 * load, so once the model is built only the tensors it keeps in fp32 (embeddings, norms, biases, heads)
 * stay in memory, not the whole file.
 */
export async function openExclusiveCheckpoint(
  dir: string,
  options: { dtype?: unknown } = {},
): Promise<Checkpoint> {
  const perTensor = options.dtype === "bf16" || options.dtype === "q8";
  const ckpt = await readCheckpoint(
    dir,
    perTensor ? { perTensor } : {
      // Tensors on cache lines: weights are packed in place, and the kernels' loads of them must not
      // straddle lines (src/aligned.ts).
      allocate: (size, tensors) => alignedBytes(size, bestLineStart(tensors)),
      beforeRead: (bytes) => Backend.adviseHugePages(bytes).catch(() => false),
    },
  );
  exclusiveFiles.add(ckpt.file);
  return ckpt;
}

/** Reads `<dir>/config.json` and `<dir>/model.safetensors`, each failure naming the file and the problem. */
export function openCheckpoint(dir: string): Promise<Checkpoint> {
  return readCheckpoint(dir);
}

// How the weights file is read: SafetensorsFile.open's options.
async function readCheckpoint(
  dir: string,
  read: Parameters<typeof SafetensorsFile.open>[1] = {},
): Promise<Checkpoint> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(dir);
  } catch (err) {
    throw new Error(`model folder ${dir} cannot be read: ${(err as Error).message}`);
  }
  if (!stat.isDirectory) throw new Error(`model path ${dir} is not a folder`);
  const config = await loadConfig(dir);
  const weightsPath = `${dir}/model.safetensors`;
  try {
    await regularFile(weightsPath); // a FIFO, device or folder is refused before anything opens it
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    throw new Error(`${weightsPath} not found${await otherWeights(dir)}`);
  }
  const file = await SafetensorsFile.open(weightsPath, read);
  // transformers refuses these too ("Conversion from a tf safetensors archive to PyTorch is not implemented"):
  // TensorFlow and Flax save their own names and [in, out] kernels, which read as PyTorch's would be wrong
  // or reported as tensors missing from a checkpoint that is not this model's.
  const format = file.metadata.format;
  if (format === "tf" || format === "flax") {
    throw new Error(
      `${weightsPath}: __metadata__ format "${format}": saved by ${
        format === "tf" ? "TensorFlow" : "Flax"
      }, ` +
        `not PyTorch; only PyTorch safetensors checkpoints are supported (load it in transformers with ` +
        `from_${format}=True and save_pretrained it again)`,
    );
  }
  return { dir, config, file };
}

// The weights files transformers would load in place of model.safetensors, in the order it looks for them.
const OTHER_WEIGHTS: readonly [file: string, what: string][] = [
  ["model.safetensors.index.json", "sharded safetensors weights"],
  ["pytorch_model.bin", "PyTorch weights"],
  ["pytorch_model.bin.index.json", "sharded PyTorch weights"],
  ["tf_model.h5", "TensorFlow weights"],
  ["flax_model.msgpack", "Flax weights"],
];

/**
 * What to say when a folder has no model.safetensors but weights transformers could load: a bare "not found"
 * beside a sharded or PyTorch / TensorFlow / Flax checkpoint does not tell the user what to do.
 */
async function otherWeights(dir: string): Promise<string> {
  for (const [file, what] of OTHER_WEIGHTS) {
    if (!await exists(`${dir}/${file}`)) continue;
    if (file === "model.safetensors.index.json") {
      return ` (the folder has ${what}, ${file}: only a single model.safetensors is supported; save the ` +
        `model again as one file, e.g. transformers' save_pretrained(dir, max_shard_size="100GB"))`;
    }
    const framework = what.replace(/^sharded /, "").replace(/ weights$/, "");
    return ` (the folder has ${file} (${framework}): only safetensors checkpoints are supported; convert it ` +
      `to model.safetensors, e.g. with transformers' save_pretrained(dir, safe_serialization=True))`;
  }
  return "";
}
