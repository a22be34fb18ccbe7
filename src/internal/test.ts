import { Effect } from "effect"
import type * as T from "../Test.js"

const formatValue = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v) ?? String(v))

/** @internal */
export const escapeParams = (params: T.Params): string =>
  Object.entries(params)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(",")
    .replace(/\s+/g, "")
    .replace(/[^.\-=_\w]+/g, ".")
    .replace(/\.+/g, ".")
    .replace(/^\.+|\.+$/g, "")

const product = (matrix: T.Matrix): ReadonlyArray<T.Params> =>
  Object.entries(matrix).reduce<ReadonlyArray<T.Params>>(
    (cases, [key, values]) => cases.flatMap((c) => values.map((v) => ({ ...c, [key]: v }))),
    [{}]
  )

const sameValue = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b)

/** @internal */
export const casesOf = (options: T.TestOptions<T.Params>): ReadonlyArray<T.Params> => {
  const matrices = options.matrix === undefined ? [] : Array.isArray(options.matrix) ? options.matrix : [options.matrix]
  let cases: ReadonlyArray<T.Params> = [...(options.parametrize ?? []), ...matrices.flatMap(product)]
  if (options.defaults !== undefined) {
    const defaults = options.defaults
    if (cases.length === 0) cases = [{}]
    cases = cases.flatMap((c) => {
      const missing = Object.fromEntries(Object.entries(defaults).filter(([k]) => !(k in c)))
      return product(missing).map((d) => ({ ...c, ...d }))
    })
  }
  return cases
}

/** @internal */
export const expand = (
  test: T.Test<any>,
  where: { readonly module: string; readonly file: string; readonly suite: string | undefined; readonly name: string },
  environment: Readonly<Record<string, string | undefined>> = process.env
): ReadonlyArray<T.TestCase> => {
  const options = test.options as T.TestOptions<T.Params>
  const declared = casesOf(options)
  const parametrized = declared.length > 0
  const cases = parametrized ? declared : [{}]
  const envMismatch = Object.entries(options.env ?? {}).find(([k, v]) => environment[k] !== v)
  const seen = new Set<string>()
  const out: Array<T.TestCase> = []
  for (const params of cases) {
    const suffix = escapeParams(params)
    const id = [where.module, where.suite, where.name].filter((s) => s !== undefined && s !== "").join(".") +
      (suffix === "" ? "" : `.${suffix}`)
    if (seen.has(id)) continue
    seen.add(id)
    const ignoredByMark = options.ignore === true ||
      (Array.isArray(options.ignore) &&
        options.ignore.some((ig: T.Params) => Object.entries(ig).every(([k, v]) => sameValue(params[k], v))))
    const ignored = ignoredByMark
      ? "marked ignore"
      : envMismatch !== undefined
      ? `needs ${envMismatch[0]}=${JSON.stringify(envMismatch[1])} (it is ${JSON.stringify(environment[envMismatch[0]] ?? null)})`
      : undefined
    out.push({
      id,
      module: where.module,
      file: where.file,
      suite: where.suite,
      name: where.name,
      params,
      parametrized,
      spec: typeof options.cluster === "function" ? options.cluster(params) : options.cluster ?? 1,
      timeout: options.timeout,
      description: options.description ?? "",
      ignored,
      // suspend: a body that throws instead of failing becomes a defect of that test, not of the run
      body: Effect.suspend(() => test.body(params as never))
    })
  }
  return out
}
