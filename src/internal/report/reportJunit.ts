import type { SessionResults, TestResult } from "../../Results.js"
import { longDuration, shortDuration, stringify, truncate } from "./reportFormat.js"

/**
 * Characters XML 1.0 cannot carry at all, not even as character references (C0 controls other than tab, CR,
 * LF; lone surrogates; U+FFFE/U+FFFF). A parser rejects the whole file for one of them, so they are dropped.
 */
const invalidXml = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu

/** Escapes element text. `>` is escaped too, so `]]>` in a message can never end anything. */
export const xmlText = (s: string): string =>
  s.replace(invalidXml, "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r/g, "&#13;")

/** Escapes an attribute value; line breaks and tabs become references so parsers keep them. */
export const xmlAttr = (s: string): string =>
  xmlText(s).replace(/"/g, "&quot;").replace(/'/g, "&apos;").replace(/\n/g, "&#10;").replace(/\t/g, "&#9;")

const attrs = (a: Record<string, string | number | undefined>): string =>
  Object.entries(a).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`).join("")

const seconds = (s: number) => (Number.isFinite(s) && s >= 0 ? s : 0).toFixed(3)

/** Strict JUnit schemas want a local ISO time without zone or fraction; we give UTC, which is what CI shows. */
const timestamp = (millis: number): string | undefined => {
  const d = new Date(millis)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().slice(0, 19)
}

/** Failure messages are shown on one line in CI lists; the detail goes in the element body. */
const maxMessage = 1000
const maxBody = 64_000
const maxData = 4000

const suiteOf = (r: TestResult) => (r.suite === undefined || r.suite === "" ? r.module : `${r.module}.${r.suite}`)

const caseName = (r: TestResult, classname: string) =>
  r.testId.startsWith(`${classname}.`) && r.testId.length > classname.length + 1
    ? r.testId.slice(classname.length + 1)
    : r.testId

const systemOut = (r: TestResult): string | undefined => {
  const lines: Array<string> = []
  if (r.status === "FLAKY") {
    const failed = r.attempts.filter((a) => a.status === "FAIL").length
    lines.push(`FLAKY: passed on attempt ${r.attempts.length} after ${failed} failed attempt${failed === 1 ? "" : "s"}:`)
    r.attempts.forEach((a, i) =>
      lines.push(`  attempt ${i + 1}: ${a.status} after ${longDuration(a.runTimeSeconds)}: ${a.summary}`))
  }
  for (const s of r.services) {
    for (const p of s.problems) lines.push(`service ${s.name} (${s.id}) problem: ${p}`)
    for (const n of s.notes) lines.push(`service ${s.name} (${s.id}) note: ${n}`)
  }
  for (const f of r.faults) {
    lines.push(`fault ${f.kind} on ${f.target}` +
      (f.outcome !== undefined
        ? ` (${f.outcome}${f.restartedAt === undefined ? "" : ` after ${shortDuration((f.restartedAt - f.appliedAt) / 1000)}`})`
        : f.healedAt === undefined ? " (never healed)" : ` for ${shortDuration((f.healedAt - f.appliedAt) / 1000)}`) +
      (f.detail === "" ? "" : `: ${f.detail}`))
  }
  if (r.nodes.length > 0) lines.push(`nodes: ${r.nodes.join(", ")}`)
  if (r.resultsDir !== "") lines.push(`results: ${r.resultsDir}`)
  const data = r.data === undefined ? undefined : stringify(r.data)
  if (data !== undefined) lines.push(`data: ${truncate(data, maxData)}`)
  return lines.length === 0 ? undefined : truncate(lines.join("\n"), maxBody)
}

const testcase = (r: TestResult, classname: string): string => {
  const head = `    <testcase${attrs({ classname, name: caseName(r, classname), time: seconds(r.runTimeSeconds) })}`
  const children: Array<string> = []
  if (r.status === "FAIL") {
    const message = r.failure?.message ?? r.summary
    const body = r.failure === undefined || r.failure.detail === "" ? r.summary : r.failure.detail
    children.push(
      `      <failure${attrs({ message: truncate(message, maxMessage), type: r.failure?.tag ?? "TestFailure" })}>` +
        `${xmlText(truncate(body, maxBody))}</failure>`
    )
  } else if (r.status === "IGNORE") {
    children.push(`      <skipped${attrs({ message: truncate(r.summary, maxMessage) })}/>`)
  }
  const out = systemOut(r)
  if (out !== undefined) children.push(`      <system-out>${xmlText(out)}</system-out>`)
  return children.length === 0 ? `${head}/>` : `${head}>\n${children.join("\n")}\n    </testcase>`
}

/** report.xml in the JUnit dialect Jenkins (junit-10.xsd), GitLab and GitHub test reporters accept. */
export const junit = (session: SessionResults): string => {
  const groups = new Map<string, Array<TestResult>>()
  for (const r of session.results) {
    const key = suiteOf(r)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [r])
    else group.push(r)
  }
  const suites: Array<string> = []
  let tests = 0, failures = 0, errors = 0, time = 0
  for (const [name, rs] of groups) {
    const f = rs.filter((r) => r.status === "FAIL").length
    const skipped = rs.filter((r) => r.status === "IGNORE").length
    const t = rs.reduce((sum, r) => sum + (Number.isFinite(r.runTimeSeconds) ? r.runTimeSeconds : 0), 0)
    tests += rs.length
    failures += f
    time += t
    suites.push(
      `  <testsuite${attrs({
        name,
        tests: rs.length,
        failures: f,
        errors: 0,
        skipped,
        time: seconds(t),
        timestamp: timestamp(Math.min(...rs.map((r) => r.startTime))),
        file: rs[0]?.file
      })}>\n${rs.map((r) => testcase(r, name)).join("\n")}\n  </testsuite>`
    )
  }
  if (session.notRun.length > 0) {
    // Not running a selected test fails the run (exit code 1), so CI sees these as errors, not as skips.
    tests += session.notRun.length
    errors += session.notRun.length
    const reason = session.interrupted
      ? "not run: the session was interrupted before this test started"
      : "not run: the session stopped before this test started"
    suites.push(
      `  <testsuite${attrs({ name: "not run", tests: session.notRun.length, failures: 0, errors: session.notRun.length, skipped: 0, time: "0.000" })}>\n` +
        session.notRun.map((id) =>
          `    <testcase${attrs({ classname: "not run", name: id, time: "0.000" })}>\n` +
          `      <error${attrs({ message: reason, type: "NotRun" })}/>\n    </testcase>`
        ).join("\n") +
        "\n  </testsuite>"
    )
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites${attrs({ name: `ducktape ${session.sessionId}`, tests, failures, errors, time: seconds(time) })}>\n` +
    (suites.length === 0 ? "" : `${suites.join("\n")}\n`) +
    `</testsuites>\n`
}
