import { Duration, Effect, Option } from "effect"
import type { ClusterSpec } from "../../Cluster.js"
import type * as T from "../../Test.js"
import { errorText } from "../shared/errorText.js"

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

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0
const isGroup = (g: unknown) =>
  typeof g === "object" && g !== null && isCount((g as { numNodes?: unknown }).numNodes) &&
  ((g as { nodeType?: unknown }).nodeType === undefined || typeof (g as { nodeType?: unknown }).nodeType === "string")

/** The cluster a case asks for, or why it cannot be used. */
const specOf = (options: T.TestOptions<T.Params>, params: T.Params): { spec: ClusterSpec } | { problem: string } => {
  let spec: unknown
  try {
    spec = typeof options.cluster === "function" ? options.cluster(params) : options.cluster ?? 1
  } catch (e) {
    return { problem: `its cluster function threw: ${errorText(e)}` }
  }
  if (isCount(spec) || isGroup(spec) || (Array.isArray(spec) && spec.every(isGroup))) return { spec: spec as ClusterSpec }
  return {
    problem: `its cluster is ${JSON.stringify(spec) ?? String(spec)}: give a whole number of nodes ≥ 0, ` +
      `{ numNodes, nodeType }, or a list of those`
  }
}

/** Why a declared timeout cannot be used, if it cannot. */
const timeoutProblem = (timeout: unknown): string | undefined =>
  timeout === undefined || Option.isSome(Duration.decodeUnknown(timeout))
    ? undefined
    : `its timeout ${JSON.stringify(timeout) ?? String(timeout)} is not a duration: write e.g. "90 seconds", "5 minutes" or a number of milliseconds`

/** @internal */
export const expand = (
  test: T.Test<any>,
  where: { readonly module: string; readonly file: string; readonly suite: string | undefined; readonly name: string },
  environment: Readonly<Record<string, string | undefined>> = process.env
): ReadonlyArray<T.TestCase> => {
  const options = test.options as T.TestOptions<T.Params>
  const declared = casesOf(options)
  // Declared parameters that expand to nothing (an empty matrix axis) are no cases, not one case without them.
  const declaresParams = options.parametrize !== undefined || options.matrix !== undefined || options.defaults !== undefined
  const parametrized = declared.length > 0
  const cases = parametrized ? declared : declaresParams ? [] : [{}]
  const envMismatch = Object.entries(options.env ?? {}).find(([k, v]) => environment[k] !== v)
  const seen = new Map<string, T.Params>()
  const out: Array<T.TestCase> = []
  const badTimeout = timeoutProblem(options.timeout)
  for (const params of cases) {
    const suffix = escapeParams(params)
    const id = [where.module, where.suite, where.name].filter((s) => s !== undefined && s !== "").join(".") +
      (suffix === "" ? "" : `.${suffix}`)
    const twin = seen.get(id)
    // The same parameters twice (a matrix and a parametrize both listing them) are one case; different
    // parameters that escape to the same id would hide one another's results.
    if (twin !== undefined && sameValue(twin, params)) continue
    if (twin === undefined) seen.set(id, params)
    const wanted = specOf(options, params)
    const problem = twin !== undefined
      ? `its parameters ${JSON.stringify(params)} give the same id as ${JSON.stringify(twin)} (ids drop spaces and ` +
        `punctuation): make the values differ in letters or digits`
      : "problem" in wanted
      ? wanted.problem
      : badTimeout
    const ignoredByMark = options.ignore === true ||
      (Array.isArray(options.ignore) &&
        options.ignore.some((ig: T.Params) => Object.entries(ig).every(([k, v]) => sameValue(params[k], v))))
    const ignored = ignoredByMark
      ? "marked ignore"
      : envMismatch !== undefined
      ? `needs ${envMismatch[0]}=${JSON.stringify(envMismatch[1])} (it is ${environment[envMismatch[0]] === undefined ? "unset" : JSON.stringify(environment[envMismatch[0]])})`
      : undefined
    out.push({
      id,
      module: where.module,
      file: where.file,
      suite: where.suite,
      name: where.name,
      params,
      parametrized,
      spec: "spec" in wanted ? wanted.spec : 0,
      timeout: badTimeout === undefined ? options.timeout : undefined,
      description: options.description ?? "",
      ignored,
      problem,
      // suspend: a body that throws instead of failing becomes a defect of that test, not of the run
      body: Effect.suspend(() => test.body(params as never))
    })
  }
  return out
}

/** @internal What Test.skip ends a test with; the runner reports the test as IGNORE with the reason. */
export class TestSkipped {
  readonly _tag = "TestSkipped"
  constructor(readonly reason: string) {}
}

/** @internal Whether a test ended with Test.skip, and why. */
export const skippedReason = (defect: unknown): string | undefined =>
  typeof defect === "object" && defect !== null && (defect as { _tag?: unknown })._tag === "TestSkipped" &&
    typeof (defect as { reason?: unknown }).reason === "string"
    ? (defect as { reason: string }).reason
    : undefined
