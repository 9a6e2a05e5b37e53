/**
 * Checks of pipeline options and inputs: every option a pipeline declares is checked for its type and range, and
 * a key it does not declare is an error (a misspelt `top_k` or `textPair` must not be silently ignored). Each
 * message names the option or the input's position.
 *
 * @module
 */

/** What a value is, for messages: `null`, `an array`, `a sparse array hole`, `number 5`, `string "x"`. */
export function describeValue(x: unknown): string {
  if (x === null) return "null";
  if (x === undefined) return "undefined";
  if (Array.isArray(x)) return "an array";
  if (typeof x === "string") return `string ${JSON.stringify(x.length > 40 ? x.slice(0, 40) + "..." : x)}`;
  if (typeof x === "number" || typeof x === "boolean" || typeof x === "bigint") {
    return `${typeof x} ${String(x)}`;
  }
  return typeof x === "object" ? "an object" : typeof x;
}

/** Whether `x` is a plain object (not null, not an array). */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * Checks an options argument: undefined or an object whose keys are all in `allowed`.
 *
 * @param what what the options are for, e.g. `fill-mask options`
 * @returns the options (an empty object for undefined)
 */
export function checkOptionKeys<T extends object>(
  options: T | undefined,
  allowed: readonly string[],
  what: string,
): T {
  if (options === undefined) return {} as T;
  if (!isPlainObject(options)) {
    throw new TypeError(`${what} must be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new TypeError(
        `${what}: unknown option ${JSON.stringify(key)} (valid options: ${allowed.join(", ")})`,
      );
    }
  }
  return options;
}

/** An integer option in `[min, max]`, or undefined. */
export function intOption(
  name: string,
  v: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new RangeError(`${name} must be an integer ${range}, got ${describeValue(v)}`);
  }
  return v;
}

/** A boolean option, or undefined. */
export function boolOption(name: string, v: unknown): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new TypeError(`${name} must be true or false, got ${describeValue(v)}`);
  return v;
}

/** One of `values`, or undefined. */
export function enumOption<T extends string>(name: string, v: unknown, values: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !(values as readonly string[]).includes(v)) {
    throw new RangeError(
      `${name} must be one of ${values.map((x) => JSON.stringify(x)).join(", ")}, got ${describeValue(v)}`,
    );
  }
  return v as T;
}

/** A function option, or undefined. */
export function functionOption<T>(name: string, v: unknown): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "function") throw new TypeError(`${name} must be a function, got ${describeValue(v)}`);
  return v as T;
}

/** An array of strings (no holes), or undefined. */
export function stringArrayOption(name: string, v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) {
    throw new TypeError(`${name} must be an array of strings, got ${describeValue(v)}`);
  }
  for (let i = 0; i < v.length; i++) {
    if (!(i in v) || typeof v[i] !== "string") {
      throw new TypeError(
        `${name}[${i}] must be a string, got ${i in v ? describeValue(v[i]) : "a hole (sparse array)"}`,
      );
    }
  }
  return v as string[];
}

/**
 * Why an object input is not of the expected shape: an unknown key, or a field that is missing or not a string.
 * Undefined when it is fine.
 *
 * @param x the input (already known to be a plain object)
 * @param required keys that must hold strings
 * @param optional keys that may hold strings (or be undefined)
 */
export function objectInputProblem(
  x: Record<string, unknown>,
  required: readonly string[],
  optional: readonly string[] = [],
): string | undefined {
  const known = [...required, ...optional];
  const shape = `{ ${known.join(", ")} }`;
  for (const key of Object.keys(x)) {
    if (!known.includes(key)) return `expected ${shape}: unknown key ${JSON.stringify(key)}`;
  }
  for (const key of required) {
    if (x[key] === undefined) return `expected ${shape}: "${key}" is missing`;
  }
  for (const key of known) {
    if (x[key] !== undefined && typeof x[key] !== "string") {
      return `expected ${shape}: "${key}" must be a string, got ${describeValue(x[key])}`;
    }
  }
  return undefined;
}
