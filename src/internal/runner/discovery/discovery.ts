import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import { Cause, Duration, Effect, Either, Option } from "effect"
import Picomatch from "picomatch"
import type * as D from "../../../Discovery.js"
import { DiscoveryError } from "../errors.js"
import * as Test from "../../../Test.js"
import * as Yaml from "../../shared/yaml.js"
import { importUserModule } from "./userModule.js"

/** Test files found by walking; a file named explicitly may have any name. */
const testFilePattern = /\.ducktape\.(?:ts|mts|js|mjs)$/
const suiteFilePattern = /\.ya?ml$/
/** Never walked into: dependencies, results of earlier runs (they may hold copies of test files), and dot-dirs. */
const skippedDirs: ReadonlySet<string> = new Set(["node_modules", "results"])
/**
 * A test file whose import never settles (a top-level await on something that never happens) must not hang the
 * whole run; it becomes a load failure instead.
 */
const importTimeout = Duration.seconds(60)
/** How many alternatives an error message lists before it says "and N more". */
const listLimit = 12

const namingFix = "test files are named *.ducktape.ts (or .mts/.js/.mjs) and export Test.suite(…) or Test.make(…) " +
  "values; a file named explicitly is loaded whatever its name"

const fail = (problem: string, fix: string) => Effect.fail(new DiscoveryError({ problem, fix }))

const posix = (p: string) => p.split(NodePath.sep).join("/")

const relative = (file: string, cwd: string) => {
  const r = posix(NodePath.relative(cwd, file))
  return r === "" ? "." : r
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

const listOf = (items: ReadonlyArray<string>) =>
  items.length <= listLimit
    ? items.join(", ")
    : `${items.slice(0, listLimit).join(", ")} and ${items.length - listLimit} more`

const errorText = (e: unknown, file?: string): string => {
  if (!(e instanceof Error)) return String(e)
  const text = e.message.trim() === "" ? e.name : e.message.trim()
  // A bare "boom" says little; the frame in the test file says where it was thrown.
  const frame = file === undefined
    ? undefined
    : (e.stack ?? "").split("\n").find((l) => /^\s+at /.test(l) && l.includes(file))?.trim().replace(/^at /, "")
  return frame === undefined || text.includes(file!) ? text : `${text} (at ${frame})`
}

/** What to do about the import errors people meet most. */
const importHint = (e: unknown): string => {
  const text = e instanceof Error ? e.message : String(e)
  if (/require\(\) ES Module|require\(esm\)|Cannot use import statement outside a module/.test(text)) {
    return "\n  fix: the file was loaded as CommonJS; add \"type\": \"module\" to the package.json above it, or name it *.ducktape.mts"
  }
  if (/Cannot find (package|module) '(effect|ducktape-effect)'/.test(text)) {
    return "\n  fix: install the framework where the test lives (npm install ducktape-effect effect)"
  }
  return ""
}

/** @internal */
export const isTestFileName = (name: string): boolean => testFilePattern.test(name)

/** @internal */
export const moduleName = (file: string, cwd: string = process.cwd()): string =>
  NodePath.relative(NodePath.resolve(cwd), NodePath.resolve(file))
    .split(NodePath.sep)
    // a file outside the working directory keeps its path below the common ancestor, not a run of dots
    .filter((s) => s !== ".." && s !== "" && s !== ".")
    .join("/")
    .replace(/\.ducktape\.(?:ts|mts|cts|js|mjs|cjs)$/, "")
    .replace(/\.(?:ts|mts|cts|tsx|js|mjs|cjs|jsx)$/, "")
    .split("/")
    .join(".")

// ---------------------------------------------------------------------------------------------------------------
// Symbols

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
const canonical = (params: Test.Params): string => JSON.stringify(sortKeys(params)) ?? "null"

// ---------------------------------------------------------------------------------------------------------------
// Files, directories and globs

type Kind = "file" | "dir"

const statKind = (path: string): Effect.Effect<Option.Option<Kind>, DiscoveryError> =>
  Effect.tryPromise({ try: () => NodeFs.stat(path), catch: (e) => e }).pipe(
    Effect.map((s) => Option.some<Kind>(s.isDirectory() ? "dir" : "file")),
    Effect.catchAll((e) => {
      const code = (e as { code?: unknown }).code
      return code === "ENOENT" || code === "ENOTDIR" || code === "ELOOP"
        ? Effect.succeed(Option.none<Kind>())
        : fail(`cannot read ${path}: ${errorText(e)}`, "check the path's permissions")
    })
  )

/** A directory's entries with their kinds (symlinks followed, broken ones dropped), sorted by name. */
const listDir = (dir: string): Effect.Effect<ReadonlyArray<{ name: string; path: string; kind: Kind }>, DiscoveryError> =>
  Effect.gen(function*() {
    const entries = yield* Effect.tryPromise({
      try: () => NodeFs.readdir(dir, { withFileTypes: true }),
      catch: (e) => new DiscoveryError({ problem: `cannot list ${dir}: ${errorText(e)}`, fix: "check its permissions" })
    })
    const out: Array<{ name: string; path: string; kind: Kind }> = []
    for (const e of [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const path = NodePath.join(dir, e.name)
      const kind: Option.Option<Kind> = e.isDirectory()
        ? Option.some("dir")
        : e.isFile()
        ? Option.some("file")
        : e.isSymbolicLink()
        ? yield* statKind(path)
        : Option.none()
      if (Option.isSome(kind)) out.push({ name: e.name, path, kind: kind.value })
    }
    return out
  })

const realPath = (p: string) =>
  Effect.tryPromise({ try: () => NodeFs.realpath(p), catch: () => p }).pipe(Effect.merge)

/** Test files under a directory, in walk order (entries sorted by name, depth first). */
const walk = (dir: string, visited: Set<string> = new Set()): Effect.Effect<ReadonlyArray<string>, DiscoveryError> =>
  Effect.gen(function*() {
    const real = yield* realPath(dir)
    if (visited.has(real)) return [] // a symlink cycle
    visited.add(real)
    const out: Array<string> = []
    for (const e of yield* listDir(dir)) {
      if (e.kind === "dir") {
        if (!e.name.startsWith(".") && !skippedDirs.has(e.name)) out.push(...(yield* walk(e.path, visited)))
      } else if (testFilePattern.test(e.name)) {
        out.push(e.path)
      }
    }
    return out
  })

/** `*` and `?` make a path a glob (a path with only `[` or `{` is taken literally); picomatch then matches it. */
const hasGlob = (s: string) => /[*?]/.test(s)

/** A matcher for one path segment; picomatch skips dot-files unless the segment itself starts with a dot. */
const segmentMatcher = (segment: string) => Picomatch(segment)

/** Orders paths as a directory walk visits them. */
const walkOrder = (a: string, b: string) => {
  const x = a.split("/")
  const y = b.split("/")
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1
  }
  return x.length - y.length
}

/** What an absolute glob pattern matches: files and directories; `**` is any number of directories. */
const expandGlob = (pattern: string): Effect.Effect<ReadonlyArray<{ path: string; kind: Kind }>, DiscoveryError> =>
  Effect.gen(function*() {
    const segments = posix(pattern).split("/")
    // `dir/**` means everything below dir: the same as walking dir.
    while (segments.length > 1 && (segments.at(-1) === "**" || segments.at(-1) === "")) segments.pop()
    const first = segments.findIndex(hasGlob)
    const found = new Map<string, Kind>()
    const match = (dir: string, k: number): Effect.Effect<void, DiscoveryError> =>
      Effect.gen(function*() {
        if (k === segments.length) {
          const kind = yield* statKind(dir)
          if (Option.isSome(kind)) found.set(dir, kind.value)
          return
        }
        const segment = segments[k]!
        if (segment === "**") {
          yield* match(dir, k + 1)
          for (const e of yield* listDir(dir)) {
            if (e.kind === "dir" && !e.name.startsWith(".") && !skippedDirs.has(e.name)) yield* match(e.path, k)
          }
          return
        }
        if (!hasGlob(segment)) {
          const next = NodePath.join(dir, segment)
          if (k + 1 === segments.length) return yield* match(next, k + 1)
          if (Option.getOrUndefined(yield* statKind(next)) === "dir") yield* match(next, k + 1)
          return
        }
        const matches = segmentMatcher(segment)
        for (const e of yield* listDir(dir)) {
          if (!matches(e.name) || (e.name.startsWith(".") && !segment.startsWith("."))) continue
          if (k + 1 === segments.length) found.set(e.path, e.kind)
          else if (e.kind === "dir") yield* match(e.path, k + 1)
        }
      })
    if (first < 0) {
      yield* match(segments.join("/") || "/", segments.length)
    } else {
      const base = segments.slice(0, first).join("/") || "/"
      if (Option.getOrUndefined(yield* statKind(base)) === "dir") yield* match(base, first)
    }
    return [...found].map(([path, kind]) => ({ path, kind })).sort((a, b) => walkOrder(posix(a.path), posix(b.path)))
  })

// ---------------------------------------------------------------------------------------------------------------
// Resolving paths and symbols into targets

/** Where a selection text came from, for messages and for what it may name. */
interface Context {
  readonly kind: "cli" | "exclude" | "suite"
  /** Prefix for messages, e.g. `suites.yml:4: `. */
  readonly where: string
  /** What relative paths are resolved against, as a phrase for fixes. */
  readonly base: string
}

/** A selection resolved to files: the test files it covers, and what it picks inside them. */
interface Target {
  readonly text: string
  readonly where: string
  readonly files: ReadonlyArray<string>
  readonly symbol: D.ParsedSymbol
  /** From a directory or a glob: a name it picks needs to exist in one of the files only. */
  readonly multi: boolean
}

type Resolved =
  | { readonly _tag: "Target"; readonly target: Target }
  | { readonly _tag: "SuiteFiles"; readonly files: ReadonlyArray<string> }

const resolve = (text: string, baseDir: string, ctx: Context): Effect.Effect<Resolved, DiscoveryError> =>
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

// ---------------------------------------------------------------------------------------------------------------
// Test-suite YAML files

interface SuiteDef {
  readonly name: string
  /** `suites.yml:4` */
  readonly at: string
  readonly included: ReadonlyArray<Target>
  readonly excluded: ReadonlyArray<Target>
}

const suiteExample = (name: string) =>
  `e.g.\n  ${name}:\n    - tests/some.ducktape.ts\n    - 'tests/other.ducktape.ts::Suite.test@{"k": 1}'\n` +
  `or\n  ${name}:\n    included: [tests/]\n    excluded: [tests/slow.ducktape.ts]`

const loadSuiteFile = (
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

// ---------------------------------------------------------------------------------------------------------------
// Loading test files

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

class Loader {
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
const select = (
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

// ---------------------------------------------------------------------------------------------------------------
// Discovery

const wholeFiles = (targets: ReadonlyArray<Target>): ReadonlySet<string> =>
  new Set(targets.filter((t) => t.symbol.name === undefined).flatMap((t) => t.files))

/** Picks a target's cases from the files it covers, loading each file once (through `loader`). */
const makePicker = (loader: Loader, cwd: string) => {
  /** The cases a target picks, except from files in `skip`; a missing name is an error (see Target.multi). */
  const casesOf = (target: Target, skip: ReadonlySet<string>) =>
    Effect.gen(function*() {
      const cases: Array<Test.TestCase> = []
      const problems: Array<{ problem: string; fix: string }> = []
      let failed = 0
      let skipped = 0
      for (const file of target.files) {
        if (skip.has(file)) {
          skipped++
          continue
        }
        const loaded = yield* loader.load(file)
        if (loaded === undefined) {
          failed++
          continue
        }
        const picked = select(loaded, target.symbol, cwd)
        if ("problem" in picked) {
          if (!target.multi) return yield* fail(target.where + picked.problem, picked.fix)
          problems.push(picked)
        } else {
          cases.push(...picked.cases)
        }
      }
      if (cases.length === 0 && failed === 0 && problems.length > 0) {
        return yield* fail(
          `${target.where}no file that ${target.symbol.path} covers has ${target.symbol.name}: ` +
            listOf(problems.map((p) => p.problem)),
          problems[0]!.fix
        )
      }
      return { cases, failed, skipped }
    })

  /** Ids of the cases the targets exclude; names they give are checked against the files already loaded. */
  const excludedIds = (targets: ReadonlyArray<Target>, cases: ReadonlyArray<Test.TestCase>) =>
    Effect.gen(function*() {
      const ids = new Set<string>()
      for (const target of targets) {
        if (target.symbol.name === undefined) {
          const files = new Set(target.files)
          for (const c of cases) if (files.has(c.file)) ids.add(c.id)
          continue
        }
        for (const file of target.files) {
          const loaded = loader.loaded(file)
          if (loaded === undefined) continue // not selected (or failed to load): nothing to exclude from it
          const picked = select(loaded, target.symbol, cwd)
          if ("problem" in picked) {
            if (!target.multi) return yield* fail(target.where + picked.problem, picked.fix)
          } else {
            for (const c of picked.cases) ids.add(c.id)
          }
        }
      }
      return ids
    })

  return { casesOf, excludedIds }
}

type Picker = ReturnType<typeof makePicker>

/**
 * The cases a suite of a suite file selects: its included targets minus its own excluded ones (and the files
 * --exclude skips). A suite that selects nothing is an error that says why, unless a file of it failed to load
 * (that failure is reported) or --exclude took its files.
 */
const suiteCases = (picker: Picker, suite: SuiteDef, globallySkipped: ReadonlySet<string>) =>
  Effect.gen(function*() {
    const ownSkip = wholeFiles(suite.excluded)
    const skip = new Set([...globallySkipped, ...ownSkip])
    const included: Array<Test.TestCase> = []
    let failed = 0
    let skippedGlobally = 0
    let skippedByOwn = 0
    for (const target of suite.included) {
      const r = yield* picker.casesOf(target, skip)
      included.push(...r.cases)
      failed += r.failed
      for (const f of target.files) {
        if (globallySkipped.has(f)) skippedGlobally++
        else if (ownSkip.has(f)) skippedByOwn++
      }
    }
    const ownExcluded = yield* picker.excludedIds(suite.excluded, included)
    const kept = included.filter((c) => !ownExcluded.has(c.id))
    if (kept.length === 0 && failed === 0 && skippedGlobally === 0) {
      return yield* (included.length > 0 || skippedByOwn > 0
        ? fail(`${suite.at}: suite ${suite.name} excludes every test it includes`, "narrow its excluded: list, or remove the suite")
        : fail(`${suite.at}: suite ${suite.name} selects no tests`,
          `check its paths and symbols (relative to the suite file's directory); ${namingFix}`))
    }
    return kept
  })

/**
 * The selected cases, in the order first selected: the same case selected twice runs once; a different test whose
 * id is taken (dir/a/b.ducktape.ts and dir/a.b.ducktape.ts, say) is kept but fails, saying so, rather than sharing
 * the first one's results.
 */
const makeSelection = (cwd: string) => {
  const cases: Array<Test.TestCase> = []
  const seen = new Map<string, Test.TestCase>()
  const sameParams = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
  const add = (selected: ReadonlyArray<Test.TestCase>, excluded: ReadonlySet<string>) => {
    for (const c of selected) {
      if (excluded.has(c.id)) continue
      const twin = seen.get(c.id)
      if (twin === undefined) {
        seen.set(c.id, c)
        cases.push(c)
      } else if (c.problem !== undefined && twin.file === c.file && twin.suite === c.suite && twin.name === c.name) {
        // A case that expansion already marked (its parameters escape to a twin's id) is a different case: it must
        // show up, failing with that reason, not pass for "the same case selected twice".
        if (!cases.some((o) => o.id === c.id && o.problem === c.problem && sameParams(o.params, c.params))) cases.push(c)
      } else if (twin.file !== c.file || twin.suite !== c.suite || twin.name !== c.name) {
        cases.push({
          ...c,
          problem: `its id is also the id of a test in ${relative(twin.file, cwd)}: rename the file, suite or test`
        })
      }
    }
  }
  return { cases, add }
}

/** @internal */
export const discover = Effect.fn("Discovery.discover")(function*(selection: D.Selection) {
  const cwd = NodePath.resolve(selection.cwd ?? process.cwd())
  const loader = new Loader(cwd, selection.parameters, { ...process.env, ...selection.env })
  const picker = makePicker(loader, cwd)
  const cliContext = (kind: "cli" | "exclude"): Context => ({
    kind,
    where: kind === "exclude" ? "--exclude: " : "",
    base: `the working directory (${cwd})`
  })

  const excludes: Array<Target> = []
  for (const text of selection.exclude ?? []) {
    const r = yield* resolve(text, cwd, cliContext("exclude"))
    if (r._tag === "Target") excludes.push(r.target)
  }
  const globallySkipped = wholeFiles(excludes)

  const selected = makeSelection(cwd)
  const searched: Array<string> = []
  const visited = new Set<string>()
  const paths = selection.paths.length === 0 ? ["."] : selection.paths
  for (const text of paths) {
    const r = yield* resolve(text, cwd, cliContext("cli"))
    if (r._tag === "Target") {
      searched.push(`${text} (${plural(r.target.files.length, "test file")})`)
      const { cases } = yield* picker.casesOf(r.target, globallySkipped)
      selected.add(cases, yield* picker.excludedIds(excludes, cases))
      continue
    }
    for (const suiteFile of r.files) {
      const suites = yield* loadSuiteFile(suiteFile, cwd, visited)
      searched.push(`${relative(suiteFile, cwd)} (${plural(suites.length, "suite")})`)
      for (const suite of suites) {
        const kept = yield* suiteCases(picker, suite, globallySkipped)
        selected.add(kept, yield* picker.excludedIds(excludes, kept))
      }
    }
  }

  if (selected.cases.length === 0 && loader.failures.length === 0) {
    const excluded = (selection.exclude ?? []).length > 0 ? `, minus --exclude ${(selection.exclude ?? []).join(" ")}` : ""
    return yield* fail(
      `no tests to run: searched ${listOf(searched)}${excluded}`,
      `${namingFix}; check the paths (relative to ${cwd})`
    )
  }
  return { cases: selected.cases, loadFailures: [...loader.failures] } satisfies D.Discovered as D.Discovered
})
