// The median of a list of timings. No imports, so scripts that do not run with the library's import map
// (bench/peers/*.ts: bare npm names resolved from bench/peers/package.json) can use it too.

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
