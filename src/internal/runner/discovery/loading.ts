/** Loading test files: importing a module, its suites and tests in declaration order, and the cases a symbol picks. */
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import { Cause, Duration, Effect, Either } from "effect"
import type * as D from "../../../Discovery.js"
import * as Test from "../../../Test.js"
import { importUserModule } from "./userModule.js"
import { moduleName, relative } from "./names.js"
import { errorText, importHint, listOf } from "./problems.js"
import { canonical } from "./symbols.js"

/**
 * A test file whose import never settles (a top-level await on something that never happens) must not hang the
 * whole run; it becomes a load failure instead.
 */
const importTimeout = Duration.seconds(60)

interface LoadedFile {
  readonly file: string
  readonly cases: ReadonlyArray<Test.TestCase>
  readonly suites: ReadonlyArray<{ readonly name: string; readonly tests: ReadonlyArray<string> }>
  /** Bare exported tests (`export const t = Test.make(…)`), by export name. */
  readonly tests: ReadonlyArray<string>
}

/**
 * Where an export is declared in the source. A module namespace lists its exports alphabetically, so the
 * declaration order that the runner keeps has to come from the text (exports it cannot place go last, by name).
 */
const exportPosition = (source: string, name: string): number => {
  if (name === "default") return /\bexport\s+default\b/.exec(source)?.index ?? Infinity
  const id = name.replace(/\$/g, "\\$")
  const declared = new RegExp(
    `\\b(?:export\\s+)?(?:declare\\s+)?(?:const|let|var|function\\*?|class)\\s+${id}(?![\\w$])`
  ).exec(source)
  if (declared !== null) return declared.index
  const listed = new RegExp(`\\bexport\\s*\\{[^}]*?(?<![\\w$])${id}(?![\\w$])`).exec(source)
  return listed === null ? Infinity : listed.index + listed[0].length
}

const withParameters = (test: Test.Test<any>, parameters: Test.Params | undefined): Test.Test<any> => {
  if (parameters === undefined) return test
  const { defaults: _d, matrix: _m, parametrize: _p, ...rest } = test.options as Test.TestOptions<Test.Params>
  return { ...test, options: { ...rest, parametrize: [parameters] } }
}

export class Loader {
  private readonly cache = new Map<string, LoadedFile | D.LoadFailure>()
  readonly failures: Array<D.LoadFailure> = []

  constructor(
    readonly cwd: string,
    private readonly parameters: Test.Params | undefined,
    private readonly env: Readonly<Record<string, string | undefined>> = process.env
  ) {}

  loaded(file: string): LoadedFile | undefined {
    const entry = this.cache.get(file)
    return entry === undefined || "error" in entry ? undefined : entry
  }

  /** Imports a test file once; a failure is recorded (and reported by the runner), never skipped silently. */
  load(file: string): Effect.Effect<LoadedFile | undefined> {
    const cached = this.cache.get(file)
    if (cached !== undefined) return Effect.succeed("error" in cached ? undefined : cached)
    const self = this
    return Effect.gen(function*() {
      const result = yield* self.importFile(file)
      self.cache.set(file, result)
      if ("error" in result) {
        self.failures.push(result)
        return undefined
      }
      return result
    })
  }

  private importFile(file: string): Effect.Effect<LoadedFile | D.LoadFailure> {
    const module = moduleName(file, this.cwd)
    const failure = (error: string): D.LoadFailure => ({ file, module, symbol: relative(file, this.cwd), error })
    const parameters = this.parameters
    const env = this.env
    return Effect.gen(function*() {
      const imported = yield* Effect.tryPromise({
        try: () => importUserModule(file),
        catch: (e) => e
      }).pipe(Effect.timeout(importTimeout), Effect.either)
      if (Either.isLeft(imported)) {
        const e = imported.left
        return failure(
          Cause.isTimeoutException(e)
            ? `importing ${relative(file, NodePath.dirname(file))} did not finish within ` +
              `${Duration.format(importTimeout)} (a top-level await that never settles?)`
            : `cannot import: ${errorText(e, file)}${importHint(e)}`
        )
      }
      const source = yield* Effect.tryPromise(() => NodeFs.readFile(file, "utf8")).pipe(Effect.orElseSucceed(() => ""))
      const exported = Object.keys(imported.right)
        .map((name) => ({ name, value: imported.right[name], position: exportPosition(source, name) }))
        .filter((e) => Test.isSuite(e.value) || Test.isTest(e.value))
        .sort((a, b) => a.position - b.position || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      const seen = new Set<unknown>()
      const cases: Array<Test.TestCase> = []
      const suites: Array<{ name: string; tests: Array<string> }> = []
      const tests: Array<string> = []
      const expand = (test: Test.Test<any>, suite: string | undefined, name: string) =>
        Effect.try({
          try: () => Test.expand(withParameters(test, parameters), { module, file, suite, name }, env),
          catch: (e) => `expanding ${suite === undefined ? name : `${suite}.${name}`} failed: ${errorText(e, file)}`
        })
      for (const { name, value } of exported) {
        if (seen.has(value)) continue // the same value exported under two names
        seen.add(value)
        if (Test.isSuite(value)) {
          const names = Object.keys(value.tests).filter((t) => Test.isTest(value.tests[t]))
          suites.push({ name: value.name, tests: names })
          for (const t of names) {
            const expanded = yield* Effect.either(expand(value.tests[t]!, value.name, t))
            if (Either.isLeft(expanded)) return failure(expanded.left)
            cases.push(...expanded.right)
          }
        } else if (Test.isTest(value)) {
          tests.push(name)
          const expanded = yield* Effect.either(expand(value, undefined, name))
          if (Either.isLeft(expanded)) return failure(expanded.left)
          cases.push(...expanded.right)
        }
      }
      if (cases.length === 0) {
        return failure(
          suites.length > 0
            ? `its suites (${suites.map((s) => s.name).join(", ")}) contain no tests`
            : "no Test.suite/Test.make exports: a test file exports suites (export const S = Test.suite(\"S\", {…})) " +
              "or tests (export const t = Test.make(…))"
        )
      }
      return { file, cases, suites, tests }
    })
  }
}

/** What a file contains, for messages: `suites Alpha (one, two), Beta (x); tests solo`. */
const contents = (f: LoadedFile) =>
  [
    f.suites.length === 0 ? "" : `${f.suites.length === 1 ? "suite" : "suites"} ${
      listOf(f.suites.map((s) => `${s.name} (${listOf(s.tests)})`))
    }`,
    f.tests.length === 0 ? "" : `${f.tests.length === 1 ? "test" : "tests"} ${listOf(f.tests)}`
  ].filter((s) => s !== "").join("; ")

/** The cases of a loaded file that a symbol picks, or why it picks none. */
export const select = (
  f: LoadedFile,
  symbol: D.ParsedSymbol,
  cwd: string
): { readonly cases: ReadonlyArray<Test.TestCase> } | { readonly problem: string; readonly fix: string } => {
  const shown = relative(f.file, cwd)
  if (symbol.name === undefined) return { cases: f.cases }
  const { name, test } = symbol
  const suite = f.suites.find((s) => s.name === name)
  let cases: ReadonlyArray<Test.TestCase>
  if (suite !== undefined) {
    if (test !== undefined && !suite.tests.includes(test)) {
      return {
        problem: `${shown}: suite ${name} has no test ${test}; it has ${listOf(suite.tests)}`,
        fix: `pick one of its tests: ${shown}::${name}.${suite.tests[0] ?? "test"}`
      }
    }
    cases = f.cases.filter((c) => c.suite === name && (test === undefined || c.name === test))
  } else if (f.tests.includes(name)) {
    if (test !== undefined) {
      return {
        problem: `${shown}: ${name} is a test, not a suite, so it has no test ${test}`,
        fix: `select it as ${shown}::${name}`
      }
    }
    cases = f.cases.filter((c) => c.suite === undefined && c.name === name)
  } else {
    return {
      problem: `${shown} has no suite or test named ${name}; it has ${contents(f)}`,
      fix: "use a suite name (as given to Test.suite) or the export name of a bare test"
    }
  }
  if (symbol.params === undefined) return { cases }
  const wanted = new Set(symbol.params.map(canonical))
  const picked = cases.filter((c) => wanted.has(canonical(c.params)))
  if (picked.length > 0) return { cases: picked }
  const what = `${shown}::${name}${test === undefined ? "" : `.${test}`}`
  const available = [...new Set(cases.filter((c) => c.parametrized).map((c) => JSON.stringify(c.params)))]
  return available.length === 0
    ? {
      problem: `${what} has no parameters, so no case matches ${symbol.params.map((p) => JSON.stringify(p)).join(", ")}`,
      fix: `drop the @…: ${what}`
    }
    : {
      problem: `no case of ${what} has the parameters ${symbol.params.map((p) => JSON.stringify(p)).join(", ")}; ` +
        `its cases are ${listOf(available)}`,
      fix: "give the parameters of an existing case (all keys, JSON values), or use --parameters to run other values"
    }
}
