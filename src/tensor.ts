/**
 * The plain tensor shape used across the public API: a flat row-major typed array and its dimensions,
 * the same `{ data, dims }` pair Transformers.js and ONNX Runtime use.
 *
 * @module
 */

/** Integer input tensor (token ids, masks). BigInt64Array is accepted for parity with ONNX/PyTorch int64. */
export interface IntTensor {
  /** Flat row-major values. */
  data: Int32Array | BigInt64Array;
  /** Dimensions, e.g. `[batch, sequence]`. */
  dims: number[];
}

/** Float32 output tensor. */
export interface FloatTensor {
  /** Flat row-major values. */
  data: Float32Array;
  /** Dimensions, e.g. `[batch, sequence, dim]`. */
  dims: number[];
}
