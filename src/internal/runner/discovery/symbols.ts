/** Test symbols (`file.ducktape.ts::Suite.test@{"k": 1}`): parsing them, and a case's symbol. */
import * as NodePath from "node:path"
import { Either } from "effect"
import type * as D from "../../../Discovery.js"
import { DiscoveryError } from "../errors.js"
import type * as Test from "../../../Test.js"
import { relative } from "./names.js"
import { errorText } from "./problems.js"

/** @internal */
export const parseSymbol = (text: string): Either.Either<D.ParsedSymbol, DiscoveryError> => {
  const bad = (problem: string, fix: string) => Either.left(new DiscoveryError({ problem, fix }))
  const sep = text.indexOf("::")
  if (sep < 0) return Either.right({ path: text, name: undefined, test: undefined, params: undefined })
  const path = text.slice(0, sep)
  const rest = text.slice(sep + 2)
  const shape = "a symbol is path/file.ducktape.ts, file::Suite, file::Suite.test, file::test, " +
    "or file::Suite.test@{\"k\":1}"
  if (path === "") return bad(`invalid symbol ${JSON.stringify(text)}: no file before "::"`, shape)
  const at = rest.indexOf("@")
  const names = at < 0 ? rest : rest.slice(0, at)
  const dot = names.indexOf(".")
  const name = dot < 0 ? names : names.slice(0, dot)
  const test = dot < 0 ? undefined : names.slice(dot + 1)
  if (name === "" || test === "") {
    return bad(`invalid symbol ${JSON.stringify(text)}: expected a suite or test name after "::"`, shape)
  }
  if (at < 0) return Either.right({ path, name, test, params: undefined })
  const json = rest.slice(at + 1)
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch (e) {
    return bad(
      `invalid symbol ${JSON.stringify(text)}: cannot parse the parameters ${json} as JSON: ${errorText(e)}`,
      `write the parameters as JSON with double-quoted keys and strings, e.g. ${path}::${names}@{"k":1}, ` +
        `and quote the whole symbol for the shell ('…')`
    )
  }
  const list: ReadonlyArray<unknown> = Array.isArray(parsed) ? parsed : [parsed]
  if (list.length === 0 || list.some((p) => typeof p !== "object" || p === null || Array.isArray(p))) {
    return bad(
      `invalid symbol ${JSON.stringify(text)}: the parameters must be a JSON object or a non-empty array of objects, ` +
        `not ${json}`,
      `write ${path}::${names}@{"k":1} for one case or @[{"k":1},{"k":2}] for several`
    )
  }
  return Either.right({ path, name, test, params: list as ReadonlyArray<Test.Params> })
}

/** @internal */
export const symbolOf = (testCase: Test.TestCase, cwd: string = process.cwd()): string =>
  `${relative(testCase.file, NodePath.resolve(cwd))}::` +
  (testCase.suite === undefined ? testCase.name : `${testCase.suite}.${testCase.name}`) +
  (testCase.parametrized ? `@${JSON.stringify(testCase.params)}` : "")

const sortKeys = (v: unknown): unknown => {
  const value = typeof (v as { toJSON?: unknown } | null)?.toJSON === "function"
    ? (v as { toJSON: () => unknown }).toJSON()
    : v
  if (Array.isArray(value)) return value.map(sortKeys)
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>
    return Object.fromEntries(Object.keys(record).sort().map((k) => [k, sortKeys(record[k])]))
  }
  return value
}

/** Parameter sets compare as JSON, whatever the key order. */
export const canonical = (params: Test.Params): string => JSON.stringify(sortKeys(params)) ?? "null"
