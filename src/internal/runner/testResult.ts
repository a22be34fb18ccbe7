/**
 * A test's result as the results model holds it: from the attempts of a test that ran (PASS, FAIL, IGNORE, or FLAKY
 * when a retry passed), or for one that never ran (ignored, unschedulable, a file that did not load).
 */
import * as NodePath from "node:path"
import * as ClusterModule from "../../Cluster.js"
import * as Discovery from "../../Discovery.js"
import type * as Results from "../../Results.js"
import type { TestCase } from "../../Test.js"
import { readSummaries } from "../history/record.js"
import * as ReportFormat from "../report/reportFormat.js"
import type { Job } from "./attempt.js"

/** What every result of a test case says about which test it is. */
export const identityOf = (t: TestCase) => ({
  testId: t.id,
  module: t.module,
  ...(t.suite === undefined ? {} : { suite: t.suite }),
  name: t.name,
  params: t.params,
  description: t.description,
  file: NodePath.relative(process.cwd(), t.file) || t.file,
  symbol: Discovery.symbolOf(t)
})

/** The result of something that never ran: an ignored or unschedulable test, a test file that did not load. */
export const notRunResult = (
  identity: ReturnType<typeof identityOf>,
  status: "IGNORE" | "FAIL",
  summary: string,
  failure?: Results.TestResult["failure"]
): Results.TestResult => {
  const now = Date.now()
  return {
    ...identity,
    status,
    summary,
    ...(failure === undefined ? {} : { failure }),
    attempts: [],
    startTime: now,
    stopTime: now,
    runTimeSeconds: 0,
    resultsDir: "",
    nodesAllocated: 0,
    nodesUsed: 0,
    nodes: [],
    services: [],
    faults: []
  }
}

/** The result of a job from its attempts so far (`deflake` of them allowed); its directories relative to `sessionDir`. */
export const resultOf = (job: Job, sessionDir: string, deflake: number): Results.TestResult => {
  const last = job.attempts[job.attempts.length - 1]!
  const passed = last.status === "PASS"
  const status: Results.TestStatus = last.status === "IGNORE"
    ? "IGNORE"
    : passed
    ? (job.attempts.length > 1 ? "FLAKY" : "PASS")
    : "FAIL"
  return {
    ...identityOf(job.testCase),
    status,
    summary: status === "FLAKY" ? `passed on attempt ${job.attempts.length} of ${deflake}` : last.summary,
    ...(last.failure !== undefined
      ? { failure: last.failure }
      : status === "FLAKY"
      ? { failure: job.attempts[0]!.failure! }
      : {}),
    attempts: job.attempts.map((a) => ({ status: a.status, summary: a.summary, runTimeSeconds: (a.stopTime - a.startTime) / 1000 })),
    startTime: job.attempts[0]!.startTime,
    stopTime: last.stopTime,
    runTimeSeconds: (last.stopTime - job.attempts[0]!.startTime) / 1000,
    // As JSON can hold it (bigints as strings, cycles marked): results are written as JSON as they come.
    ...(last.data === undefined ? {} : { data: ReportFormat.jsonSafe(last.data) }),
    resultsDir: NodePath.relative(sessionDir, last.resultsDir),
    nodesAllocated: ClusterModule.specSize(job.testCase.spec),
    nodesUsed: last.nodesUsed,
    nodes: last.nodes,
    allocations: job.attempts.map((a) => ({ nodes: a.nodes, allocatedAt: a.allocatedAt ?? a.startTime, releasedAt: a.releasedAt ?? a.stopTime })),
    services: last.services,
    faults: last.faults,
    ...historiesOf(last.resultsDir)
  }
}

/** The histories a test attached (Test.recordHistory), for its result; nothing when it attached none. */
const historiesOf = (dir: string) => {
  const histories = readSummaries(dir)
  return histories.length === 0 ? {} : { histories }
}
