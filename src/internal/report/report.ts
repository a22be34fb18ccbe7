import * as NodeFsSync from "node:fs"
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import { Effect, Either, ParseResult, Schema } from "effect"
import { fileNames, ReportError } from "./errors.js"
import type * as Results from "../../Results.js"
import { SessionResults } from "../../Results.js"
import { html } from "./reportHtml.js"
import { junit } from "./reportJunit.js"
import { svg as timelineSvg } from "./reportTimeline.js"
import { byStatus, failedSymbols, stringify, truncate } from "./reportFormat.js"
import { text } from "./reportText.js"
import { errorText } from "../shared/errorText.js"

// ---------------------------------------------------------------------------------------------------------
// report.json
// ---------------------------------------------------------------------------------------------------------

const encode = Schema.encodeEither(SessionResults)

/** report.json: the model encoded with its Schema (today the encoded form is the model itself). */
export const json = (session: Results.SessionResults): string => {
  const encoded = Either.getOrElse(encode(session), () => session)
  return `${stringify(encoded, 2) ?? "null"}\n`
}

const decode = Schema.decodeUnknownEither(Schema.parseJson(SessionResults))

/** Reads report.json text back into the model. */
export const decodeJson = (
  input: string,
  source = "report.json"
): Either.Either<Results.SessionResults, ReportError> =>
  Either.mapLeft(decode(input), (e) =>
    new ReportError({
      operation: "decode",
      path: source,
      reason: truncate(ParseResult.TreeFormatter.formatErrorSync(e), 2000)
    }))

// ---------------------------------------------------------------------------------------------------------
// rerun-failed.yml
// ---------------------------------------------------------------------------------------------------------

/**
 * A YAML double-quoted scalar. JSON string syntax is valid YAML; on top of it, characters YAML does not allow
 * raw (DEL, C1 controls, line/paragraph separators, BOM) are escaped and lone surrogates replaced.
 */
export const yamlQuote = (s: string): string =>
  JSON.stringify(s.replace(/[\uD800-\uDFFF]/gu, "\uFFFD")).replace(/[\u007f-\u009f\u2028\u2029\ufeff]/g, (c) =>
    `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/**
 * A symbol (`path::rest`, its path relative to the current directory) with its path made relative to `dir`: a
 * suite file's paths are read relative to the file's own directory.
 */
const relativeTo = (dir: string) => (symbol: string): string => {
  const at = symbol.indexOf("::")
  const path = at < 0 ? symbol : symbol.slice(0, at)
  const moved = NodePath.relative(dir, NodePath.resolve(path)) || "."
  return moved + (at < 0 ? "" : symbol.slice(at))
}

/** rerun-failed.yml, or undefined when no test failed; written into `dir`, its paths are relative to that. */
export const rerunSuite = (session: Results.SessionResults, dir?: string): string | undefined => {
  const failed = failedSymbols(session.results)
  const symbols = dir === undefined ? failed : failed.map(relativeTo(dir))
  if (symbols.length === 0) return undefined
  return [
    `# Tests that failed in session ${session.sessionId.replace(/[\r\n]/g, " ")}.`,
    `# Rerun only them with: npx ducktape <this file>`,
    `${yamlQuote(session.sessionId)}:`,
    ...symbols.map((s) => `  - ${yamlQuote(s)}`),
    ""
  ].join("\n")
}

// ---------------------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------------------


const writeError = (path: string) => (e: unknown) => new ReportError({ operation: "write", path, reason: errorText(e) })

/**
 * Write to a sibling temporary file, flush it, then rename over the report: a reader (or a crash, or a ^C) sees
 * the old report or the new one, never half of one.
 */
const writeAtomically = (path: string, content: string): Effect.Effect<string, ReportError> => {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`
  return Effect.tryPromise({
    try: async () => {
      const handle = await NodeFs.open(tmp, "w")
      try {
        await handle.writeFile(content, "utf8")
        await handle.datasync()
      } finally {
        await handle.close()
      }
      await NodeFs.rename(tmp, path)
      return path
    },
    catch: writeError(path)
  }).pipe(Effect.tapError(() => Effect.promise(() => NodeFs.rm(tmp, { force: true }).catch(() => undefined))))
}

const render = (path: string, f: () => string): Effect.Effect<string, ReportError> =>
  Effect.try({ try: f, catch: (e) => new ReportError({ operation: "write", path, reason: `could not render: ${errorText(e)}` }) })

/** How the rerun file is named in report.txt: relative to the current directory when below it. */
const displayPath = (path: string): string => {
  const rel = NodePath.relative(process.cwd(), path)
  return rel === "" || rel.startsWith("..") || NodePath.isAbsolute(rel) ? path : rel
}

/** Every report file of a session directory, each with how to render it (one list for writeAll and writeAllSync). */
const reportFiles = (dir: string, session: Results.SessionResults) => {
  const at = (name: string) => NodePath.join(dir, name)
  const rerunPath = at(fileNames.rerun)
  const rerun = rerunSuite(session, dir)
  const renderers: ReadonlyArray<readonly [string, () => string]> = [
    [at(fileNames.text), () => text(session, { rerunFile: displayPath(rerunPath) })],
    [at(fileNames.json), () => json(session)],
    [at(fileNames.junit), () => junit(session)],
    [at(fileNames.html), () => html(session, { rerunFile: displayPath(rerunPath), dir })],
    [at(fileNames.timeline), () => timelineSvg(session, byStatus(session.results))],
    ...(rerun === undefined ? [] : [[rerunPath, () => rerun] as const])
  ]
  return { renderers, rerun, rerunPath }
}

/** Writes all reports into `dir`; returns their paths. */
export const writeAll: (
  dir: string,
  session: Results.SessionResults
) => Effect.Effect<ReadonlyArray<string>, ReportError> = Effect.fn("Report.writeAll")(
  function*(dir: string, session: Results.SessionResults) {
    yield* Effect.tryPromise({ try: () => NodeFs.mkdir(dir, { recursive: true }), catch: writeError(dir) })
    const { renderers, rerun, rerunPath } = reportFiles(dir, session)
    const written = yield* Effect.forEach(
      renderers,
      ([path, f]) => Effect.flatMap(render(path, f), (content) => writeAtomically(path, content)),
      { concurrency: "unbounded" }
    )
    // Reports are rewritten as a run goes on; a failure that was later retried away must not leave its rerun file.
    if (rerun === undefined) {
      yield* Effect.tryPromise({ try: () => NodeFs.rm(rerunPath, { force: true }), catch: writeError(rerunPath) })
    }
    return written
  }
)

/**
 * writeAll, synchronously: for a process about to exit at once (a second Ctrl-C), when no Effect will run again.
 * Each file is still written beside and renamed over its report. Returns the paths written; never throws.
 */
export const writeAllSync = (dir: string, session: Results.SessionResults): ReadonlyArray<string> => {
  const { renderers } = reportFiles(dir, session)
  const written: Array<string> = []
  for (const [path, render] of renderers) {
    const tmp = `${path}.${process.pid}.sync.tmp`
    try {
      NodeFsSync.writeFileSync(tmp, render())
      NodeFsSync.renameSync(tmp, path)
      written.push(path)
    } catch {
      NodeFsSync.rmSync(tmp, { force: true })
    }
  }
  return written
}

// ---------------------------------------------------------------------------------------------------------
// Merging shards
// ---------------------------------------------------------------------------------------------------------

const distinct = (values: ReadonlyArray<string>) => [...new Set(values)]

/** One session out of several shards' sessions. */
export const merge = (sessions: ReadonlyArray<Results.SessionResults>): Results.SessionResults => {
  // A test's runs under --repeat share its id but not their results directory: each is kept. Only true repeats
  // (a load failure every shard reports, a test run again in a later shard) collapse, the later one winning.
  const byRun = new Map<string, Results.TestResult>()
  for (const s of sessions) for (const r of s.results) byRun.set(`${r.testId}\u0000${r.resultsDir}`, r)
  const results = [...byRun.values()]
  const ran = new Set(results.map((r) => r.testId))
  const starts = sessions.map((s) => s.startTime).filter(Number.isFinite)
  const stops = sessions.map((s) => s.stopTime).filter(Number.isFinite)
  const startTime = starts.length === 0 ? 0 : Math.min(...starts)
  const stopTime = stops.length === 0 ? startTime : Math.max(...stops)
  return {
    sessionId: distinct(sessions.map((s) => s.sessionId)).join("+") || "merged",
    frameworkVersion: distinct(sessions.map((s) => s.frameworkVersion)).join(", "),
    startTime,
    stopTime,
    runTimeSeconds: Math.max(0, (stopTime - startTime) / 1000),
    // Shards run on clusters of their own, side by side.
    clusterNumNodes: sessions.reduce((n, s) => n + s.clusterNumNodes, 0),
    parallelism: sessions.reduce((n, s) => n + s.parallelism, 0),
    argv: sessions[0]?.argv ?? [],
    ...(sessions[0]?.rerun === undefined ? {} : { rerun: sessions[0].rerun }),
    interrupted: sessions.some((s) => s.interrupted),
    notRun: distinct(sessions.flatMap((s) => s.notRun)).filter((id) => !ran.has(id)),
    results
  }
}
