/** Attaching a workload's history to a test's results: the files beside the test's results and the summary for report.json. */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Effect } from "effect"
import type { History } from "../../History.js"
import type { Verdict } from "../../Linearizability.js"
import type { Model } from "../../Model.js"
import type { HistorySummary } from "../../Results.js"
import type { FaultRecord } from "../../Workload.js"
import { checkEffect } from "./checker.js"
import { toJsonLines } from "./files.js"
import * as Plots from "./plots.js"

/** Where the runner finds what a test attached: one summary file per history, in `<test dir>/histories/`. */
export const summarySuffix = ".summary.json"

/** A history's name as a file name: letters, digits, `.`, `_` and `-` only. */
export const safeName = (name: string): string => name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^\.+/, "_").slice(0, 100) || "history"

/**
 * Claims `histories/<name>.jsonl` for a new history: a second history of the same name (or of one that reads the
 * same as a file name) gets `<name>-2`, `-3`, … rather than overwriting the first. Exclusive creation, so that two
 * histories recorded at once do not both take one name.
 */
const claimBase = (dir: string, name: string): string => {
  const base = safeName(name)
  for (let k = 1; ; k++) {
    const candidate = k === 1 ? base : `${base}-${k}`
    try {
      NodeFs.closeSync(NodeFs.openSync(NodePath.join(dir, candidate + ".jsonl"), "wx"))
      return candidate
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
    }
  }
}

/** Checks the history (unless a verdict is given) and writes its files; the summary and the verdict. */
export const write = <S>(
  resultsDir: string,
  name: string,
  result: { readonly history: History; readonly faults?: ReadonlyArray<FaultRecord> },
  model: Model<S> | undefined,
  given: Verdict | undefined
): Effect.Effect<{ readonly summary: HistorySummary; readonly verdict: Verdict | undefined }> =>
  Effect.gen(function*() {
    // Checked in slices: other tests running beside this one keep their turns meanwhile.
    const verdict = given !== undefined || model === undefined ? given : yield* checkEffect(model, result.history)
    const dir = NodePath.join(resultsDir, "histories")
    NodeFs.mkdirSync(dir, { recursive: true })
    const base = claimBase(dir, name)
    const file = (suffix: string) => NodePath.join("histories", base + suffix)
    const write = (suffix: string, text: string) => NodeFs.writeFileSync(NodePath.join(resultsDir, file(suffix)), text)
    const faults = result.faults ?? []
    write(".jsonl", toJsonLines(result.history))
    write(".faults.json", JSON.stringify(faults, null, 2) + "\n")
    if (verdict !== undefined) write(".verdict.json", JSON.stringify(verdict, null, 2) + "\n")
    // The pictures, for CI and for report.html (which reads them from here).
    write(".lanes.svg", Plots.lanes(result.history, faults, verdict))
    write(".latency.svg", Plots.latency(result.history, faults))
    write(".rate.svg", Plots.rate(result.history, faults))
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
    write(summarySuffix, JSON.stringify(summary) + "\n")
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
