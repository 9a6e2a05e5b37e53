/**
 * Finding and opening the two native libraries, once per isolate (the main thread and each Worker; the OS
 * maps each library once per process): our kernels through `Deno.dlopen`, and OpenBLAS through the
 * kernels (`dbk_blas_open`), which call it under one process-wide lock. An environment variable overrides
 * each search; a failure names every path tried and how to fix it.
 *
 * @module
 */

import { KERNEL_ABI_VERSION, KERNEL_SYMBOLS } from "./symbols.ts";
import { defaultBuildDir, ensureKernelsBuilt, kernelLibraryPath } from "./build.ts";

/** Environment variable naming the OpenBLAS shared library to load instead of searching. */
export const OPENBLAS_PATH_ENV = "DENOBERT_OPENBLAS_PATH";
/** Environment variable naming our built kernel library to load instead of searching. */
export const KERNELS_PATH_ENV = "DENOBERT_KERNELS_PATH";

/** The opened kernel library. */
export type KernelLibrary = Deno.DynamicLibrary<typeof KERNEL_SYMBOLS>;

function openBlasCandidates(): string[] {
  switch (Deno.build.os) {
    case "darwin":
      return [
        "libopenblas.dylib",
        "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
        "/usr/local/opt/openblas/lib/libopenblas.dylib",
      ];
    case "windows":
      return ["libopenblas.dll", "openblas.dll"];
    default: {
      const multiarch = Deno.build.arch === "aarch64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
      return [
        "libopenblas.so.0",
        "libopenblas.so",
        `/usr/lib/${multiarch}/libopenblas.so.0`,
        `/usr/lib/${multiarch}/openblas-pthread/libopenblas.so.0`,
        `/usr/lib/${multiarch}/openblas-openmp/libopenblas.so.0`,
        "/usr/lib64/libopenblas.so.0",
        "/usr/local/lib/libopenblas.so.0",
        "/opt/OpenBLAS/lib/libopenblas.so.0",
      ];
    }
  }
}

function envPath(name: string): string | undefined {
  try {
    const value = Deno.env.get(name);
    return value && value.length > 0 ? value : undefined;
  } catch {
    return undefined; // no --allow-env: fall back to the search
  }
}

/**
 * OpenBLAS's idle workers spin (yielding) for up to 2^28 cycles, about 0.1 s, after every sgemm. Our kernels
 * run their own threads right after each GEMM, and on a machine with as many cores as threads those spinning
 * workers take cores from them: measured on 2 cores, attention and GELU then ran no faster on 2 threads than
 * on 1, and the base 8x128 forward took 7% longer. 2^4 cycles makes the workers sleep at once; waking them
 * costs microseconds per GEMM, which the GEMMs that go to OpenBLAS (more than 40 rows) do not notice. Read by
 * OpenBLAS when it is loaded, so set only if the user has not, and before the first dlopen.
 */
export const OPENBLAS_THREAD_TIMEOUT = "4";

function preferSleepingBlasWorkers(): void {
  try {
    if (Deno.env.get("OPENBLAS_THREAD_TIMEOUT") === undefined) {
      Deno.env.set("OPENBLAS_THREAD_TIMEOUT", OPENBLAS_THREAD_TIMEOUT);
    }
  } catch {
    // no --allow-env: OpenBLAS keeps its default
  }
}

/** Loads OpenBLAS into the kernel library: `$DENOBERT_OPENBLAS_PATH` if set (and nothing else), else the usual names and paths. */
function loadOpenBlas(kernels: KernelLibrary): void {
  preferSleepingBlasWorkers();
  const override = envPath(OPENBLAS_PATH_ENV);
  const candidates = override ? [override] : openBlasCandidates();
  const failures: string[] = [];
  const enc = new TextEncoder();
  const err = new Uint8Array(1024);
  for (const path of candidates) {
    if (kernels.symbols.dbk_blas_open(enc.encode(`${path}\0`), err, err.length) === 0) return;
    const end = err.indexOf(0);
    failures.push(`  ${path}: ${new TextDecoder().decode(err.subarray(0, end < 0 ? err.length : end))}`);
  }
  throw new Error(
    `could not load OpenBLAS. Tried:\n${failures.join("\n")}\n` +
      `Install it (Debian/Ubuntu: apt-get install libopenblas0-pthread; macOS: brew install openblas) ` +
      `or set ${OPENBLAS_PATH_ENV} to the library's path. Deno needs --allow-ffi.`,
  );
}

function openKernelsAt(path: string): KernelLibrary {
  const lib = Deno.dlopen(path, KERNEL_SYMBOLS);
  const abi = lib.symbols.dbk_abi_version();
  if (abi !== KERNEL_ABI_VERSION) {
    lib.close();
    throw new Error(
      `kernel library ${path} has ABI version ${abi}, expected ${KERNEL_ABI_VERSION}: rebuild it`,
    );
  }
  return lib;
}

/**
 * Opens our kernels: `$DENOBERT_KERNELS_PATH` if set, else the build for the current sources, building it
 * first when it is missing (needs a C compiler and --allow-run/--allow-write; `deno task build` does the
 * same ahead of time).
 */
async function openKernels(): Promise<KernelLibrary> {
  const override = envPath(KERNELS_PATH_ENV);
  if (override) {
    try {
      return openKernelsAt(override);
    } catch (err) {
      throw new Error(
        `could not load the kernel library from ${KERNELS_PATH_ENV}=${override}: ${(err as Error).message}`,
      );
    }
  }
  const expected = await kernelLibraryPath();
  const failures: string[] = [];
  try {
    return openKernelsAt(expected);
  } catch (err) {
    failures.push(`  ${expected}: ${(err as Error).message}`);
  }
  try {
    return openKernelsAt(await ensureKernelsBuilt());
  } catch (err) {
    failures.push(`  building into ${defaultBuildDir()}: ${(err as Error).message}`);
  }
  throw new Error(
    `could not load the DistilBERT kernel library. Tried:\n${failures.join("\n")}\n` +
      `Run \`deno task build\` (needs a C compiler: apt-get install gcc), or set ${KERNELS_PATH_ENV}.`,
  );
}

let opened: Promise<KernelLibrary> | undefined;

/**
 * The kernel library with OpenBLAS loaded into it, opened on the first call in this isolate and shared by
 * every model of the isolate; never closed (a model's `close()` releases only what is its own). A failure
 * is not remembered, so a later call (after installing what was missing) tries again.
 */
export function openNative(): Promise<KernelLibrary> {
  opened ??= (async () => {
    const kernels = await openKernels();
    try {
      loadOpenBlas(kernels);
    } catch (err) {
      kernels.close();
      throw err;
    }
    return kernels;
  })().catch((err) => {
    opened = undefined;
    throw err;
  });
  return opened;
}
