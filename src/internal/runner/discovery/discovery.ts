/** Discovery: the cases a selection (paths, symbols, suite files, excludes) names, each once, or why not. */
import * as NodePath from "node:path"
import { Effect } from "effect"
import type * as D from "../../../Discovery.js"
import type * as Test from "../../../Test.js"
import { Loader, select } from "./loading.js"
import { relative } from "./names.js"
import { fail, listOf, namingFix, plural } from "./problems.js"
import { loadSuiteFile, type SuiteDef } from "./suiteFile.js"
import { type Context, resolve, type Target } from "./targets.js"

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
