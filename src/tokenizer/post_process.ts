/**
 * Turns token sequences into rows: the special-token template (`[CLS] A [SEP] B [SEP]`), type ids,
 * masks, and the combination of overflow windows into extra rows the way `tokenizers` merges them.
 *
 * @module
 */

import type { TemplatePiece } from "./spec.ts";
import type { TokenSink } from "./token_sink.ts";
import type { Encoding } from "./types.ts";

/** Number of special tokens a template adds. */
export function countSpecialTokens(template: readonly TemplatePiece[]): number {
  let n = 0;
  for (const piece of template) if (piece.kind === "special") n += piece.ids.length;
  return n;
}

/** Builds one row from a sequence (and optional pair) with the given template (null: no special tokens). */
export function buildRow(
  first: TokenSink,
  second: TokenSink | null,
  template: readonly TemplatePiece[] | null,
  tokenOf: (id: number) => string,
): Encoding {
  const row: Encoding = {
    inputIds: [],
    attentionMask: [],
    tokenTypeIds: [],
    tokens: [],
    offsets: [],
    wordIds: [],
    sequenceIds: [],
    specialTokensMask: [],
  };
  if (template === null) {
    appendSequence(row, first, 0, 0, tokenOf);
    if (second) appendSequence(row, second, 1, 1, tokenOf);
    return row;
  }
  for (const piece of template) {
    if (piece.kind === "special") {
      for (let k = 0; k < piece.ids.length; k++) {
        row.inputIds.push(piece.ids[k]);
        row.attentionMask.push(1);
        row.tokenTypeIds.push(piece.typeId);
        row.tokens.push(piece.tokens[k]);
        row.offsets.push([0, 0]);
        row.wordIds.push(null);
        row.sequenceIds.push(null);
        row.specialTokensMask.push(1);
      }
    } else {
      const seq = piece.which === 0 ? first : second;
      if (seq) appendSequence(row, seq, piece.which, piece.typeId, tokenOf);
    }
  }
  return row;
}

function appendSequence(
  row: Encoding,
  seq: TokenSink,
  sequenceId: number,
  typeId: number,
  tokenOf: (id: number) => string,
): void {
  const { ids, starts, ends, words, matched } = seq;
  for (let k = 0; k < ids.length; k++) {
    row.inputIds.push(ids[k]);
    row.attentionMask.push(1);
    row.tokenTypeIds.push(typeId);
    row.tokens.push(matched?.get(k) ?? tokenOf(ids[k]));
    row.offsets.push([starts[k], ends[k]]);
    row.wordIds.push(words[k]);
    row.sequenceIds.push(sequenceId);
    row.specialTokensMask.push(0);
  }
}

/**
 * All rows from the truncation windows of a sequence (and pair): the main row first, then the overflow
 * rows in the order `Encoding::merge_with` produces them: each further window of the first sequence with
 * every window of the second, then the first window of the first with each further window of the second.
 */
export function buildRows(
  firstWindows: TokenSink[],
  secondWindows: TokenSink[] | null,
  template: readonly TemplatePiece[] | null,
  tokenOf: (id: number) => string,
): Encoding[] {
  if (!secondWindows) return firstWindows.map((w) => buildRow(w, null, template, tokenOf));
  const rows = [buildRow(firstWindows[0], secondWindows[0], template, tokenOf)];
  for (let i = 1; i < firstWindows.length; i++) {
    for (const second of secondWindows) rows.push(buildRow(firstWindows[i], second, template, tokenOf));
  }
  for (let j = 1; j < secondWindows.length; j++) {
    rows.push(buildRow(firstWindows[0], secondWindows[j], template, tokenOf));
  }
  return rows;
}

/** Right-pads a row to `length` with the padding token (no-op when already as long). */
export function padRow(row: Encoding, length: number, padId: number, padToken: string): void {
  for (let k = row.inputIds.length; k < length; k++) {
    row.inputIds.push(padId);
    row.attentionMask.push(0);
    row.tokenTypeIds.push(0);
    row.tokens.push(padToken);
    row.offsets.push([0, 0]);
    row.wordIds.push(null);
    row.sequenceIds.push(null);
    row.specialTokensMask.push(1);
  }
}
