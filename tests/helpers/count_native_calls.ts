/**
 * Test helper: wraps `Deno.dlopen` so that every symbol of every library opened afterwards calls `onCall` with
 * its name first. The native library is opened once per isolate, so install this before anything loads a
 * model in the isolate (a Worker, or a child process).
 *
 * @module
 */

export function countNativeCalls(onCall: (name: string) => void): void {
  const dlopen = Deno.dlopen;
  // deno-lint-ignore no-explicit-any
  (Deno as any).dlopen = (path: string | URL, symbols: Deno.ForeignLibraryInterface) => {
    const lib = dlopen(path, symbols);
    const wrapped: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(lib.symbols)) {
      wrapped[name] = typeof fn === "function"
        ? (...args: unknown[]) => {
          onCall(name);
          return (fn as (...a: unknown[]) => unknown)(...args);
        }
        : fn;
    }
    return { symbols: wrapped, close: () => lib.close() };
  };
}
