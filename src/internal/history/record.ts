/** Attaching a workload's history to a test's results: the files beside the test's results and the summary for report.json. */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Effect } from "effect"
import type { History } from "../../History.js"
import type { Verdict } from "../../Linearizability.js"
import type { Model } from "../../Model.js"
import type { HistorySummary } from "../../Results.js"
import type { FaultRecord } from "../../Workload.js"
import { check } from "./checker.js"
import { toJsonLines } from "./files.js"
import * as Plots from "./plots.js"

/** Where the runner finds what a test attached: one summary file per history, in `<test dir>/histories/`. */
export const summarySuffix = ".summary.json"

/** A history's name as a file name: letters, digits, `.`, `_` and `-` only. */
export const safeName = (name: string): string => name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^\.+/, "_").slice(0, 100) || "history"

/** Checks the history (unless a verdict is given) and writes its files; the summary and the verdict. */
export const write = <S>(
  resultsDir: string,
  name: string,
  result: { readonly history: History; readonly faults?: ReadonlyArray<FaultRecord> },
  model: Model<S> | undefined,
  given: Verdict | undefined
): Effect.Effect<{ readonly summary: HistorySummary; readonly verdict: Verdict | undefined }> =>
  Effect.sync(() => {
    const verdict = given ?? (model === undefined ? undefined : check(model, result.history))
    const dir = NodePath.join(resultsDir, "histories")
    NodeFs.mkdirSync(dir, { recursive: true })
    const base = safeName(name)
    const file = (suffix: string) => NodePath.join("histories", base + suffix)
    NodeFs.writeFileSync(NodePath.join(resultsDir, file(".jsonl")), toJsonLines(result.history))
    NodeFs.writeFileSync(NodePath.join(resultsDir, file(".faults.json")), JSON.stringify(result.faults ?? [], null, 2) + "\n")
    if (verdict !== undefined) NodeFs.writeFileSync(NodePath.join(resultsDir, file(".verdict.json")), JSON.stringify(verdict, null, 2) + "\n")
    // The pictures, for CI and for report.html (which reads them from here).
    const faults = result.faults ?? []
    NodeFs.writeFileSync(NodePath.join(resultsDir, file(".lanes.svg")), Plots.lanes(result.history, faults, verdict))
    NodeFs.writeFileSync(NodePath.join(resultsDir, file(".latency.svg")), Plots.latency(result.history, faults))
    NodeFs.writeFileSync(NodePath.join(resultsDir, file(".rate.svg")), Plots.rate(result.history, faults))
    const outcomes = { ok: 0, fail: 0, info: 0 }
    for (const op of result.history.ops) outcomes[op.outcome]++
    const summary: HistorySummary = {
      name,
      file: file(".jsonl"),
      faultsFile: file(".faults.json"),
      ...(verdict === undefined ? {} : { verdictFile: file(".verdict.json"), verdict: verdict._tag }),
      ...(verdict !== undefined ? { model: verdict.model } : model !== undefined ? { model: model.name } : {}),
      ops: result.history.ops.length,
      outcomes,
      ...(verdict?._tag === "Invalid" ? { failingOp: verdict.counterexample.op.id } : {})
    }
    NodeFs.writeFileSync(NodePath.join(resultsDir, file(summarySuffix)), JSON.stringify(summary) + "\n")
    return { summary, verdict }
  })

/** The summaries a test attached, in the order they were written (none when it attached none). */
export const readSummaries = (resultsDir: string): ReadonlyArray<HistorySummary> => {
  const dir = NodePath.join(resultsDir, "histories")
  let names: Array<string>
  try {
    names = NodeFs.readdirSync(dir).filter((n) => n.endsWith(summarySuffix))
  } catch {
    return []
  }
  const out: Array<HistorySummary & { at: number }> = []
  for (const n of names) {
    try {
      const p = NodePath.join(dir, n)
      out.push({ ...(JSON.parse(NodeFs.readFileSync(p, "utf8")) as HistorySummary), at: NodeFs.statSync(p).mtimeMs })
    } catch {
      // A summary that cannot be read is left out; the history file is still there.
    }
  }
  return out.sort((a, b) => a.at - b.at).map(({ at: _, ...s }) => s)
}
