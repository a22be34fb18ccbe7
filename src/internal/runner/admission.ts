/**
 * What of a selection can run. Whatever cannot — a test file that did not load, a test declared wrong, an ignored
 * test, one that needs more than the whole cluster has — gets its result at once, never silently skipped; the rest
 * wait for nodes.
 */
import * as NodePath from "node:path"
import { Effect } from "effect"
import * as ClusterModule from "../../Cluster.js"
import type { LoadFailure } from "../../Discovery.js"
import type { TestCase } from "../../Test.js"
import type { Bookkeeping } from "./bookkeeping.js"
import type { RunState } from "./runState.js"
import { identityOf, notRunResult } from "./testResult.js"

/** One run of a test case: `run` of --repeat's count. */
export interface CaseRun {
  readonly testCase: TestCase
  readonly run: number
}

/** The selection, `runs` times over (--repeat). */
export const expandRuns = (cases: ReadonlyArray<TestCase>, runs: number): ReadonlyArray<CaseRun> =>
  Array.from({ length: runs }, (_, k) => cases.map((testCase) => ({ testCase, run: k + 1 }))).flat()

/** Why a test larger than the whole cluster cannot run, and how to run it. */
const neverFits = (cluster: ClusterModule.Cluster, spec: ClusterModule.ClusterSpec) => {
  const types = [...new Set(ClusterModule.normalize(spec).flatMap((g) => (g.nodeType === undefined ? [] : [g.nodeType])))]
  const have = `the whole cluster has ${ClusterModule.describeSpec(cluster.all.map((n) => ({ numNodes: 1, ...(n.nodeType === undefined ? {} : { nodeType: n.nodeType }) })))}`
  const fix = types.length > 0
    // Localhost nodes have no type: only a cluster file gives nodes one.
    ? `run it on a cluster whose file gives enough nodes "node_type": ${types.map((t) => JSON.stringify(t)).join(" / ")} (--cluster-file)`
    : `run it on a bigger cluster (e.g. --cluster localhost:${ClusterModule.specSize(spec)})`
  return `the test needs ${ClusterModule.describeSpec(spec)} but ${have}; ${fix}`
}

/** Records a result for each load failure and each case that cannot run; queues the others in `state.pending`. */
export const admit = (
  ctx: { readonly cluster: ClusterModule.Cluster; readonly book: Bookkeeping; readonly state: RunState },
  cases: ReadonlyArray<CaseRun>,
  loadFailures: ReadonlyArray<LoadFailure>
) =>
  Effect.gen(function*() {
    const { book, cluster, state } = ctx
    // Load failures are failed tests, never silently skipped.
    for (const f of loadFailures) {
      const summary = `could not load ${f.file}: ${f.error}`
      const identity = {
        testId: f.module,
        module: f.module,
        name: NodePath.basename(f.file),
        params: {},
        description: "",
        file: NodePath.relative(process.cwd(), f.file) || f.file,
        symbol: f.symbol
      }
      yield* book.immediate(notRunResult(identity, "FAIL", summary, { tag: "LoadError", message: summary, detail: f.error }))
    }
    for (const c of cases) {
      if (c.testCase.problem !== undefined) {
        const summary = `the test cannot run as declared: ${c.testCase.problem}`
        yield* book.immediate(notRunResult(identityOf(c.testCase), "FAIL", summary, { tag: "InvalidTest", message: summary, detail: "" }))
      } else if (c.testCase.ignored !== undefined) {
        yield* book.immediate(notRunResult(identityOf(c.testCase), "IGNORE", `ignored: ${c.testCase.ignored}`))
      } else if (!cluster.fitsEver(c.testCase.spec)) {
        const summary = neverFits(cluster, c.testCase.spec)
        yield* book.immediate(notRunResult(identityOf(c.testCase), "FAIL", summary, { tag: "Unschedulable", message: summary, detail: "" }))
      } else state.pending.push({ testCase: c.testCase, run: c.run, attempts: [] })
    }
  })
