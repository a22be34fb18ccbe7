/** Test-suite YAML files: named suites of selections, with what they include and exclude. */
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import { Effect, Either, Option } from "effect"
import { DiscoveryError } from "../errors.js"
import * as Yaml from "../../shared/yaml.js"
import { realPath, statKind } from "./files.js"
import { relative, suiteFilePattern } from "./names.js"
import { errorText, fail } from "./problems.js"
import { type Context, resolve, type Resolved, type Target } from "./targets.js"

export interface SuiteDef {
  readonly name: string
  /** `suites.yml:4` */
  readonly at: string
  readonly included: ReadonlyArray<Target>
  readonly excluded: ReadonlyArray<Target>
}

const suiteExample = (name: string) =>
  `e.g.\n  ${name}:\n    - tests/some.ducktape.ts\n    - 'tests/other.ducktape.ts::Suite.test@{"k": 1}'\n` +
  `or\n  ${name}:\n    included: [tests/]\n    excluded: [tests/slow.ducktape.ts]`

export const loadSuiteFile = (
  file: string,
  cwd: string,
  visited: Set<string>
): Effect.Effect<ReadonlyArray<SuiteDef>, DiscoveryError> =>
  Effect.gen(function*() {
    const real = yield* realPath(file)
    if (visited.has(real)) return [] // an import cycle, or a file given twice
    visited.add(real)
    const shown = relative(file, cwd)
    const dir = NodePath.dirname(file)
    const ctxAt = (line: number): Context => ({
      kind: "suite",
      where: `${shown}:${line}: `,
      base: `the suite file's directory (${relative(dir, cwd)})`
    })
    const text = yield* Effect.tryPromise({
      try: () => NodeFs.readFile(file, "utf8"),
      catch: (e) => new DiscoveryError({ problem: `cannot read ${shown}: ${errorText(e)}`, fix: "check its permissions" })
    })
    const doc = yield* Either.mapLeft(Yaml.parse(text), (e) =>
      new DiscoveryError({
        problem: `${shown}:${e.line}:${e.column}: ${e.reason}`,
        fix: "suite files are YAML: `key: value` mappings, `- item` and `[a, b]` lists, plain or quoted " +
          "strings, # comments; quote symbols that contain `: ` or start with a special character"
      }))
    if (doc._tag === "Null") {
      return yield* fail(`${shown} is empty`, `define at least one suite, ${suiteExample("my_suite")}`)
    }
    if (doc._tag !== "Map") {
      return yield* fail(
        `${shown} must be a mapping of suite names to tests, but it holds ${Yaml.kindOf(doc)}`,
        `define suites as \`name: [symbols…]\`, ${suiteExample("my_suite")}`
      )
    }
    const stringsOf = (node: Yaml.Node, what: string): Effect.Effect<ReadonlyArray<{ text: string; line: number }>, DiscoveryError> => {
      if (node._tag === "Scalar") return Effect.succeed([{ text: node.value, line: node.line }])
      if (node._tag === "Null") return Effect.succeed([])
      if (node._tag === "Map") {
        return fail(`${shown}:${node.line}: ${what} must be a list of paths or symbols, not a mapping`,
          `write it as a list, ${suiteExample("my_suite")}`)
      }
      const out: Array<{ text: string; line: number }> = []
      for (const item of node.items) {
        if (item._tag === "Map") {
          // `- file.ts::S.t@{"k": 1}` is a mapping to YAML: the symbol's `: ` made it one.
          return fail(`${shown}:${item.line}:${item.column}: a mapping inside a list item is not supported; ` +
            "if this is a symbol containing `: `, quote it ('…')", `write one path or symbol per \`- \` line, ${suiteExample("my_suite")}`)
        }
        if (item._tag !== "Scalar") {
          return fail(`${shown}:${item.line}: every item of ${what} must be a path or symbol, not ${Yaml.kindOf(item)}`,
            `write one path or symbol per \`- \` line, ${suiteExample("my_suite")}`)
        }
        out.push({ text: item.value, line: item.line })
      }
      return Effect.succeed(out)
    }
    const targets = (entries: ReadonlyArray<{ text: string; line: number }>) =>
      Effect.forEach(entries, (e) =>
        resolve(e.text, dir, ctxAt(e.line)).pipe(
          // suite contexts never yield suite files (resolve refuses them)
          Effect.map((r) => (r as Extract<Resolved, { _tag: "Target" }>).target)
        ))
    const suites: Array<SuiteDef> = []
    for (const entry of doc.entries) {
      if (entry.key === "import") {
        const imports = yield* stringsOf(entry.value, "import:")
        if (imports.length === 0) {
          return yield* fail(`${shown}:${entry.line}: import: is empty`, "list suite files to import, or remove it")
        }
        for (const imp of imports) {
          const path = NodePath.resolve(dir, imp.text)
          if (!suiteFilePattern.test(path)) {
            return yield* fail(`${shown}:${imp.line}: import: ${imp.text} is not a suite file (.yml/.yaml)`,
              "import suite files only; list test files and symbols under a suite")
          }
          if (Option.isNone(yield* statKind(path))) {
            return yield* fail(`${shown}:${imp.line}: import: no such file: ${imp.text}`,
              `check the spelling; imports are resolved against the suite file's directory (${relative(dir, cwd)})`)
          }
          suites.push(...(yield* loadSuiteFile(path, cwd, visited)))
        }
        continue
      }
      const name = entry.key
      const at = `${shown}:${entry.line}`
      const empty = () =>
        fail(`${at}: suite ${name} is empty`, `list the tests it runs, ${suiteExample(name)}`)
      let included: ReadonlyArray<{ text: string; line: number }>
      let excluded: ReadonlyArray<{ text: string; line: number }> = []
      if (entry.value._tag === "Map") {
        for (const e of entry.value.entries) {
          if (e.key !== "included" && e.key !== "excluded") {
            return yield* fail(
              `${shown}:${e.line}: suite ${name} has an unknown key ${JSON.stringify(e.key)}`,
              `a suite is a list of symbols, or a mapping with included: and excluded: lists; ${suiteExample(name)}`
            )
          }
        }
        const inc = entry.value.entries.find((e) => e.key === "included")
        const exc = entry.value.entries.find((e) => e.key === "excluded")
        if (inc === undefined) {
          return yield* fail(`${at}: suite ${name} has no included: list`, `add the tests it runs, ${suiteExample(name)}`)
        }
        included = yield* stringsOf(inc.value, `suite ${name}'s included:`)
        if (exc !== undefined) excluded = yield* stringsOf(exc.value, `suite ${name}'s excluded:`)
      } else {
        included = yield* stringsOf(entry.value, `suite ${name}`)
      }
      if (included.length === 0) return yield* empty()
      suites.push({ name, at, included: yield* targets(included), excluded: yield* targets(excluded) })
    }
    return suites
  })
