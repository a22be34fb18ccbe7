import type * as R from "../../Report.js"
import type { SessionResults, TestResult } from "../../Results.js"
import { counts } from "../../Results.js"
import * as Shell from "../../Shell.js"
import { failedSymbols, isoTime, longDuration, paramsText, stringify, truncate, withoutAnsi } from "./reportFormat.js"

const width = 100
const heavy = "=".repeat(width)
const light = "-".repeat(width)
const maxDataChars = 4000
const maxDetailChars = 8000
/** Beyond this the one-line rerun command is no longer something a person copies; the yml file is. */
const maxRerunLine = 600
/** A test's summary in report.txt: a 2 MB assertion message is the test's own file, not the report's. */
const maxSummaryChars = 4000
/** Failures listed one line each in the terminal summary before "and N more". */
const maxListedFailures = 20

/** The first line of a summary, cut to what a terminal line can show. */
const firstLine = (s: string, max = 300) => {
  const line = s.split("\n")[0] ?? ""
  return line.length <= max ? line : `${line.slice(0, max)}…`
}

/**
 * Control characters become visible `\uXXXX` escapes: report.txt is also printed to a terminal, and a test's
 * message must not be able to move the cursor, change colours or clear the screen.
 */
const visible = (s: string): string =>
  withoutAnsi(s).replace(/\r\n/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) =>
    `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

const indent = (s: string, by = "    ") => s.split("\n").map((l) => by + l).join("\n")

const field = (name: string, value: string) => `${`${name}:`.padEnd(18)}${value}`
const testField = (name: string, value: string) => `${`${name}:`.padEnd(12)}${value}`

const offset = (t: number, start: number) => `+${((t - start) / 1000).toFixed(3)}s`

const testBlock = (r: TestResult): string => {
  const lines: Array<string> = [
    testField("test_id", r.testId),
    testField("status", r.status),
    testField("run time", longDuration(r.runTimeSeconds))
  ]
  const params = paramsText(r.params)
  if (params !== "") lines.push(testField("params", params))
  if (r.nodesAllocated > 0 || r.nodes.length > 0) {
    lines.push(testField("nodes", `${r.nodesUsed} used of ${r.nodesAllocated}` +
      (r.nodes.length > 0 ? ` (${r.nodes.join(", ")})` : "")))
  }
  if (r.status === "FAIL" || r.status === "IGNORE" || (r.status === "FLAKY" && r.summary !== "Test Passed")) {
    lines.push(truncate(r.summary, maxSummaryChars, r.resultsDir === "" ? "" : `; the whole message is in ${r.resultsDir}`))
  }
  if (r.failure !== undefined) {
    // The detail usually starts with the summary (error, then stack): print only what it adds.
    const detail = r.failure.detail.trimEnd()
    const extra = detail.startsWith(r.summary.trimEnd()) ? detail.slice(r.summary.trimEnd().length).replace(/^\n+/, "") : detail
    if (extra.trim() !== "") {
      lines.push(indent(truncate(extra, maxDetailChars, r.resultsDir === "" ? "" : `; see ${r.resultsDir}/test_log.info`)))
    }
  }
  if (r.attempts.length > 1) {
    lines.push(`attempts (${r.attempts.length}):`)
    r.attempts.forEach((a, i) =>
      lines.push(indent(`${i + 1}. ${a.status} after ${longDuration(a.runTimeSeconds)}: ${a.summary.split("\n")[0] ?? ""}`)))
  }
  for (const s of r.services) {
    if (s.notes.length === 0 && s.problems.length === 0) continue
    lines.push(`service ${s.name} (${s.id})${s.nodes.length > 0 ? ` on ${s.nodes.join(", ")}` : ""}:`)
    for (const p of s.problems) lines.push(indent(`problem: ${p}`))
    for (const n of s.notes) lines.push(indent(`note: ${n}`))
  }
  for (const f of r.faults) {
    lines.push(`fault ${f.kind} on ${f.target} at ${offset(f.appliedAt, r.startTime)}` +
      (f.outcome !== undefined
        ? `, ${f.outcome}${f.restartedAt === undefined ? "" : ` at ${offset(f.restartedAt, r.startTime)}`}`
        : f.healedAt === undefined ? ", never healed" : `, healed at ${offset(f.healedAt, r.startTime)}`) +
      (f.detail === "" ? "" : `: ${f.detail}`))
  }
  const data = r.data === undefined ? undefined : stringify(r.data, 2)
  if (data !== undefined) {
    lines.push("data:", truncate(data, maxDataChars, r.resultsDir === "" ? "" : `; the whole value is in ${r.resultsDir}/data.json`))
  }
  return lines.join("\n")
}

/** report.txt: a ducktape-like session summary, one block per test, then the failed symbols and rerun hints. */
export const text = (session: SessionResults, options: R.TextOptions = {}): string => {
  const c = counts(session.results)
  const out: Array<string> = [
    heavy,
    "SESSION REPORT (ALL TESTS)",
    field("ducktape version", session.frameworkVersion),
    field("session_id", session.sessionId),
    field("started", isoTime(session.startTime)),
    field("run time", longDuration(session.runTimeSeconds)),
    field("tests run", String(c.total)),
    field("passed", String(c.passed)),
    field("flaky", String(c.flaky)),
    field("failed", String(c.failed)),
    field("ignored", String(c.ignored))
  ]
  if (session.notRun.length > 0) out.push(field("not run", String(session.notRun.length)))
  if (session.interrupted) out.push("The session was interrupted: tests that had not started are not in this report.")
  out.push(heavy)
  for (const r of session.results) out.push(testBlock(r), light)
  if (session.notRun.length > 0) {
    out.push("TESTS NOT RUN", ...session.notRun.map((id) => `  ${id}`), light)
  }
  const symbols = failedSymbols(session.results)
  if (symbols.length > 0) {
    const file = options.rerunFile === undefined
      ? `<results dir>/${session.sessionId}/rerun-failed.yml`
      : Shell.quote(options.rerunFile)
    const quoted = symbols.map(Shell.quote)
    const command = session.rerun ?? "npx ducktape"
    const line = `${command} ${quoted.join(" ")}`
    out.push(
      heavy,
      "FAILED TEST SYMBOLS",
      "Pass these symbols to ducktape to rerun only the failed tests:",
      ...quoted.map((q) => `  ${q}`),
      "",
      "Rerun them with:",
      line.length <= maxRerunLine ? `  ${line}` : `  ${command} <the symbols above…>`,
      `  ${command} ${file}`,
      heavy
    )
  }
  return visible(out.join("\n")) + "\n"
}

/**
 * What the terminal shows at the end of a run: the counts, each failure with its first line, the rerun command and
 * where the full report is. report.txt itself can be tens of thousands of lines.
 */
export const summary = (
  session: SessionResults,
  options: { readonly rerunFile?: string; readonly reportFile?: string } = {}
): string => {
  const c = counts(session.results)
  const out: Array<string> = [
    heavy,
    `session ${session.sessionId}: ${c.total} tests in ${longDuration(session.runTimeSeconds)}: ${c.passed} passed, ` +
      `${c.flaky} flaky, ${c.failed} failed, ${c.ignored} ignored` +
      (session.notRun.length > 0 ? `, ${session.notRun.length} not run` : "")
  ]
  if (session.interrupted) out.push("The session was interrupted: tests that had not started are not in the report.")
  const failed = session.results.filter((r) => r.status === "FAIL")
  if (failed.length > 0) {
    out.push("", "FAILED")
    for (const r of failed.slice(0, maxListedFailures)) out.push(`  ${r.testId}: ${firstLine(r.summary)}`)
    if (failed.length > maxListedFailures) out.push(`  … and ${failed.length - maxListedFailures} more (in the full report)`)
  }
  const flaky = session.results.filter((r) => r.status === "FLAKY")
  if (flaky.length > 0) out.push("", `FLAKY: ${flaky.slice(0, maxListedFailures).map((r) => r.testId).join(", ")}${flaky.length > maxListedFailures ? ", …" : ""}`)
  if (failedSymbols(session.results).length > 0) {
    const file = options.rerunFile === undefined ? `<results dir>/${session.sessionId}/rerun-failed.yml` : Shell.quote(options.rerunFile)
    const command = session.rerun ?? "npx ducktape"
    const line = `${command} ${failedSymbols(session.results).map(Shell.quote).join(" ")}`
    out.push("", "Rerun the failed tests with:", ...(line.length <= maxRerunLine ? [`  ${line}`] : []), `  ${command} ${file}`)
  }
  if (options.reportFile !== undefined) out.push("", `full report: ${options.reportFile}`)
  out.push(heavy)
  return visible(out.join("\n")) + "\n"
}
