import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import Mustache from "mustache"
import type { SessionResults, TestResult } from "../../Results.js"
import { counts } from "../../Results.js"
import {
  byStatus,
  failedSymbols,
  isoTime,
  longDuration,
  paramsText,
  shortDuration,
  stringify,
  truncate,
  withoutAnsi
} from "./reportFormat.js"
import * as Shell from "../../Shell.js"
import { readPackageFile } from "../shared/packageFiles.js"
import { compact, timeline } from "./reportTimeline.js"

// The page is one file, rendered from templates/report/ (HTML shell, CSS, script): data as JSON in a non-executed
// <script type="application/json">, drawn by the inline script (report.js) with textContent and setAttribute only,
// so no string from a test is ever parsed as HTML. A Content-Security-Policy allows only that one script (by hash)
// and no network at all.

/** Per test, big values are cut so that one chatty test cannot make the page unusable; the files keep all. */
const maxData = 64_000
const maxDetail = 64_000

/** JSON safe inside <script>: `<` `>` `&` and the JS line separators are written as \u escapes. */
const jsonForScript = (value: unknown): string =>
  (stringify(value) ?? "null").replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/**
 * What a person should see of a string: no ANSI colour codes, and other control characters as `\uXXXX`, as in
 * report.txt, instead of the blank boxes a browser draws for them.
 */
const shown = (s: string): string =>
  withoutAnsi(s).replace(/\r\n/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) =>
    `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** Applies `shown` to every string in the view, except paths that links are made of. */
const shownDeep = (value: unknown, key = ""): unknown =>
  typeof value === "string"
    ? key === "dir" ? value : shown(value)
    : Array.isArray(value)
    ? value.map((v) => shownDeep(v))
    : value !== null && typeof value === "object"
    ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shownDeep(v, k)]))
    : value

/** A picture of a history, read from the test's results; a line saying why when it is missing. */
const picture = (dir: string | undefined, r: TestResult, file: string, kind: string): string | null => {
  if (dir === undefined) return null
  try {
    const svg = NodeFs.readFileSync(NodePath.join(dir, r.resultsDir, file.replace(/\.jsonl$/, `.${kind}.svg`)), "utf8")
    return svg.length > 8_000_000 ? null : svg
  } catch {
    return null
  }
}

/** The histories a test attached, with their pictures (SVG text, drawn by report.js through an XML parser). */
const historiesOf = (r: TestResult, dir: string | undefined) =>
  (r.histories ?? []).map((h) => ({
    name: h.name,
    file: h.file,
    model: h.model ?? null,
    verdict: h.verdict ?? null,
    ops: h.ops,
    outcomes: h.outcomes,
    failingOp: h.failingOp ?? null,
    lanes: picture(dir, r, h.file, "lanes"),
    latency: picture(dir, r, h.file, "latency"),
    rate: picture(dir, r, h.file, "rate")
  }))

const viewOf = (r: TestResult, dir?: string) => {
  const data = r.data === undefined ? undefined : stringify(r.data, 2)
  return {
    id: r.testId,
    status: r.status,
    module: r.module,
    suite: r.suite ?? "",
    name: r.name,
    params: Object.entries(r.params).map(([k, v]) => [k, typeof v === "string" ? v : stringify(v) ?? "undefined"]),
    paramsText: paramsText(r.params),
    description: r.description,
    summary: truncate(r.summary, maxDetail),
    failure: r.failure === undefined
      ? null
      : { tag: r.failure.tag, message: truncate(r.failure.message, maxDetail), detail: truncate(r.failure.detail, maxDetail) },
    attempts: r.attempts.map((a) => ({ status: a.status, summary: truncate(a.summary, 2000), duration: shortDuration(a.runTimeSeconds) })),
    start: r.startTime,
    stop: r.stopTime,
    seconds: r.runTimeSeconds,
    duration: shortDuration(r.runTimeSeconds),
    longDuration: longDuration(r.runTimeSeconds),
    data: data === undefined ? null : truncate(data, maxData, "; the whole value is in data.json"),
    dir: r.resultsDir,
    nodes: r.nodes,
    nodesAllocated: r.nodesAllocated,
    nodesUsed: r.nodesUsed,
    services: r.services,
    faults: r.faults,
    histories: historiesOf(r, dir),
    symbol: r.symbol,
    file: r.file
  }
}

/** report.html: one self-contained page, templates/report/ rendered with the session's data. */
export const html = (session: SessionResults, options: { readonly rerunFile?: string; readonly dir?: string } = {}): string => {
  const c = counts(session.results)
  const symbols = failedSymbols(session.results)
  const tests = byStatus(session.results)
  const data = {
    sessionId: session.sessionId,
    version: session.frameworkVersion,
    start: session.startTime,
    notRun: session.notRun,
    tests: tests.map((r) => {
      const { histories, ...rest } = viewOf(r, options.dir)
      // The pictures are ours (test strings in them are escaped): not passed through `shown`, which would break them.
      return { ...(shownDeep(rest) as object), histories: histories.map(({ lanes, latency, rate, ...h }) => ({ ...(shownDeep(h) as object), lanes, latency, rate })) }
    }),
    timeline: shownDeep(compact(timeline(session, tests))),
    rerun: symbols.length === 0 ? null : {
      symbols: `npx ducktape ${symbols.map(Shell.quote).join(" ")}`,
      file: `npx ducktape ${
        options.rerunFile === undefined ? `<results dir>/${session.sessionId}/rerun-failed.yml` : Shell.quote(options.rerunFile)
      }`
    }
  }
  const script = readPackageFile("templates/report/report.js")
  const style = readPackageFile("templates/report/report.css")
  // Inlined raw: a closing tag inside either would end its element early and break the page.
  if (/<\/script/i.test(script) || /<\/style/i.test(style)) throw new Error("templates/report: report.js or report.css contains a closing tag")
  const scriptHash = NodeCrypto.createHash("sha256").update(script, "utf8").digest("base64")
  const card = (cls: string, n: number, label: string) => ({ cls, n, label })
  const view = {
    csp: `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${scriptHash}'`,
    title: c.failed > 0 ? `✗ ${c.failed} failed` : "✓ passed",
    sessionId: session.sessionId,
    verdict: c.failed > 0 || session.notRun.length > 0 ? "bad" : "good",
    started: isoTime(session.startTime),
    runTime: longDuration(session.runTimeSeconds),
    clusterNumNodes: session.clusterNumNodes,
    oneNode: session.clusterNumNodes === 1,
    parallelism: session.parallelism,
    version: session.frameworkVersion,
    interrupted: session.interrupted,
    cards: [
      card("total", c.total, "tests"),
      card("PASS", c.passed, "passed"),
      card("FAIL", c.failed, "failed"),
      card("FLAKY", c.flaky, "flaky"),
      card("IGNORE", c.ignored, "ignored"),
      ...(session.notRun.length > 0 ? [card("NOTRUN", session.notRun.length, "not run")] : [])
    ],
    style,
    script,
    data: jsonForScript(data)
  }
  // Mustache escapes {{x}} for HTML; the CSP (our own characters), style, script and JSON go in raw ({{{x}}}).
  return Mustache.render(readPackageFile("templates/report/report.html.mustache"), view)
}
