/** A selection text (a path, a glob, a symbol) resolved into the test files it covers and what it picks in them. */
import * as NodePath from "node:path"
import { Effect, Either, Option } from "effect"
import type * as D from "../../../Discovery.js"
import { DiscoveryError } from "../errors.js"
import { expandGlob, hasGlob, statKind, walk } from "./files.js"
import { relative, suiteFilePattern, testFilePattern } from "./names.js"
import { fail, listOf, namingFix, plural } from "./problems.js"
import { parseSymbol } from "./symbols.js"

/** Where a selection text came from, for messages and for what it may name. */
export interface Context {
  readonly kind: "cli" | "exclude" | "suite"
  /** Prefix for messages, e.g. `suites.yml:4: `. */
  readonly where: string
  /** What relative paths are resolved against, as a phrase for fixes. */
  readonly base: string
}

/** A selection resolved to files: the test files it covers, and what it picks inside them. */
export interface Target {
  readonly text: string
  readonly where: string
  readonly files: ReadonlyArray<string>
  readonly symbol: D.ParsedSymbol
  /** From a directory or a glob: a name it picks needs to exist in one of the files only. */
  readonly multi: boolean
}

export type Resolved =
  | { readonly _tag: "Target"; readonly target: Target }
  | { readonly _tag: "SuiteFiles"; readonly files: ReadonlyArray<string> }

export const resolve = (text: string, baseDir: string, ctx: Context): Effect.Effect<Resolved, DiscoveryError> =>
  Effect.gen(function*() {
    const symbol = yield* Either.mapLeft(
      parseSymbol(text),
      (e) => new DiscoveryError({ problem: ctx.where + e.problem, fix: e.fix })
    )
    const abs = NodePath.resolve(baseDir, symbol.path)
    const target = (files: ReadonlyArray<string>, multi: boolean): Resolved => ({
      _tag: "Target",
      target: { text, where: ctx.where, files: [...new Set(files)], symbol, multi }
    })
    const suiteFiles = (files: ReadonlyArray<string>) =>
      ctx.kind !== "cli"
        ? fail(
          `${ctx.where}${text} is a suite file; ${ctx.kind === "exclude" ? "--exclude" : "a suite"} takes test files ` +
            `and symbols only`,
          ctx.kind === "suite" ? "list it under `import:` to run its suites too" : "exclude the symbols it lists instead"
        )
        : symbol.name !== undefined
        ? fail(`${text}: a suite file takes no ::symbol`, `give the suite file alone: ${symbol.path}`)
        : Effect.succeed<Resolved>({ _tag: "SuiteFiles", files })
    if (hasGlob(symbol.path)) {
      const matches = yield* expandGlob(abs)
      if (suiteFilePattern.test(symbol.path)) {
        const files = matches.filter((m) => m.kind === "file" && suiteFilePattern.test(m.path)).map((m) => m.path)
        if (files.length === 0 && ctx.kind === "cli") {
          return yield* fail(`no suite file matches ${text}`, `check the pattern; it is resolved against ${ctx.base}`)
        }
        return yield* suiteFiles(files)
      }
      if (matches.length === 0 && ctx.kind !== "exclude") {
        return yield* fail(`${ctx.where}no file or directory matches ${text}`,
          `check the pattern (* and ? stay within a directory, ** spans directories); it is resolved against ${ctx.base}`)
      }
      const files: Array<string> = []
      const ignored: Array<string> = []
      for (const m of matches) {
        if (m.kind === "dir") files.push(...(yield* walk(m.path)))
        else if (testFilePattern.test(m.path)) files.push(m.path)
        else ignored.push(NodePath.basename(m.path))
      }
      if (files.length === 0 && ignored.length > 0 && ctx.kind !== "exclude") {
        return yield* fail(
          `${ctx.where}${text} matches ${plural(ignored.length, "file")} but no test file: ${listOf(ignored)}`,
          namingFix
        )
      }
      return target(files, true)
    }
    const kind = yield* statKind(abs)
    if (Option.isNone(kind)) {
      return yield* fail(
        `${ctx.where}no such file or directory: ${symbol.path}`,
        `check the spelling; relative paths are resolved against ${ctx.base}`
      )
    }
    if (kind.value === "dir") return target(yield* walk(abs), true)
    if (suiteFilePattern.test(abs)) return yield* suiteFiles([abs])
    return target([abs], false)
  })
