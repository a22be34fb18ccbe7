import { Effect } from "effect"
import * as Clean from "../../../Clean.js"
import type { RunEvent } from "../../../Runner.js"

const statusColor: Record<string, string> = { PASS: "\x1b[32m", FAIL: "\x1b[31m", FLAKY: "\x1b[33m", IGNORE: "\x1b[90m" }
const reset = "\x1b[0m"
/** The most of a failure's first line shown on a progress line. */
const maxReason = 300

/**
 * Live progress: on a terminal a status line (running tests, counts, elapsed) redrawn in place under the lines
 * of finished tests; elsewhere (CI logs, pipes) plain lines only.
 */
export const makeProgress = (
  out: { write(text: string): unknown; readonly isTTY?: boolean; readonly columns?: number },
  options: { readonly color?: boolean } = {}
) => {
  const tty = out.isTTY === true
  // NO_COLOR / FORCE_COLOR are the caller's to weigh (see cli/flags.ts useColor); by default, color on a terminal.
  const colored = options.color ?? tty
  const running = new Map<string, number>()
  const counts = { PASS: 0, FAIL: 0, FLAKY: 0, IGNORE: 0 }
  let total = 0
  let started = Date.now()
  let statusShown = false
  const color = (status: string, text: string) => (colored ? `${statusColor[status] ?? ""}${text}${reset}` : text)
  const clearStatus = () => {
    if (tty && statusShown) out.write("\r\x1b[2K")
    statusShown = false
  }
  const drawStatus = () => {
    if (!tty) return
    const elapsed = ((Date.now() - started) / 1000).toFixed(0)
    const done = counts.PASS + counts.FAIL + counts.FLAKY + counts.IGNORE
    const names = [...running.keys()].map((id) => id.split(".").slice(-2).join(".")).join(", ")
    const line = `[${elapsed}s] ${done}/${total} done · ${counts.PASS} passed · ${counts.FAIL} failed · ` +
      `${counts.FLAKY} flaky · ${counts.IGNORE} ignored · running ${running.size}: ${names}`
    out.write("\r\x1b[2K" + line.slice(0, Math.max(20, (out.columns ?? 120) - 1)))
    statusShown = true
  }
  const timer = tty ? setInterval(drawStatus, 500) : undefined
  timer?.unref()
  const onEvent = (event: RunEvent) =>
    Effect.sync(() => {
      clearStatus()
      switch (event._tag) {
        case "SessionStarted":
          total = event.total
          started = Date.now()
          out.write(`session ${event.sessionId}: running ${event.total} tests; results in ${event.resultsDir}\n`)
          break
        case "TestStarted":
          running.set(event.testId, Date.now())
          if (!tty) out.write(`START ${event.testId}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ""} on ${event.nodes.join(",")}\n`)
          break
        case "TestFinished": {
          const r = event.result
          running.delete(r.testId)
          if (!event.willRetry) counts[r.status]++
          const label = event.willRetry ? "RETRY" : r.status
          const time = `${r.runTimeSeconds.toFixed(2)}s`
          // One line, cut: a 2 MB assertion message is in the test's results directory, not on the terminal.
          const first = r.summary.split("\n")[0] ?? ""
          const why = r.status === "PASS" ? "" : `: ${first.length <= maxReason ? first : `${first.slice(0, maxReason)}… (the whole message is in the report)`}`
          out.write(`${color(event.willRetry ? "FLAKY" : r.status, label.padEnd(6))} ${r.testId} (${time})${why}\n`)
          break
        }
        case "LeftoversRemoved":
          out.write(`removed ${event.leftovers.length} leftovers of crashed sessions:\n${Clean.describe(event.leftovers)}\n`)
          break
        case "Stopping":
          out.write(`stopping: ${event.reason}\n`)
          break
        case "NodeLost":
          out.write(`node ${event.node} stopped answering and is taken out of the run: ${event.reason.split("\n")[0]}\n`)
          break
      }
      drawStatus()
    })
  const close = Effect.sync(() => {
    if (timer !== undefined) clearInterval(timer)
    clearStatus()
  })
  return { onEvent, close }
}
