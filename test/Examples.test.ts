import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { scopedLab } from "./support/lab.js"

const repo = NodePath.resolve(NodePath.dirname(NodeUrl.fileURLToPath(import.meta.url)), "..")

interface Outcome {
  readonly code: number | null
  readonly out: string
  readonly report: { readonly results: ReadonlyArray<{ readonly testId: string; readonly status: string; readonly summary: string }> }
}

/** Runs the CLI as a user would, and reads the session's report.json. */
const ducktape = (args: ReadonlyArray<string>, resultsRoot: string) =>
  Effect.async<Outcome>((resume) => {
    const child = ChildProcess.spawn(process.execPath, [NodePath.join(repo, "bin/ducktape.js"), ...args, "--results-root", resultsRoot], {
      cwd: repo,
      env: { ...process.env, DUCKTAPE_LAB: undefined }
    })
    let out = ""
    child.stdout.on("data", (b) => (out += b))
    child.stderr.on("data", (b) => (out += b))
    child.on("close", (code) => {
      const report = JSON.parse(NodeFs.readFileSync(NodePath.join(resultsRoot, "latest", "report.json"), "utf8"))
      resume(Effect.succeed({ code, out, report }))
    })
    return Effect.sync(() => child.kill("SIGINT"))
  })

const failures = (o: Outcome) => o.report.results.filter((r) => r.status === "FAIL").map((r) => `${r.testId}: ${r.summary}`)

describe("the examples", () => {
  it.live("the main job — `ducktape examples` on the localhost cluster — passes", () =>
    Effect.gen(function*() {
      const results = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "dt-examples-"))
      const o = yield* ducktape(["examples", "--max-parallel", "3"], results)
      expect(failures(o), o.out.slice(-3000)).toEqual([])
      expect(o.code).toBe(0)
      const statuses = new Map(o.report.results.map((r) => [r.testId, r.status]))
      for (const id of ["examples.zookeeper.ZooKeeperTest.survivesBounce", "examples.redis.RedisTest.failover", "examples.loadgen.LoadGenTest.deliversEveryMessageOnce"]) {
        expect(statuses.get(id), id).toBe("PASS")
      }
      // Network faults need real hosts: on localhost that example is IGNORE, not FAIL.
      expect(statuses.get("examples.zookeeper-partition.ZooKeeperPartitionTest.leaderPartitionedAway")).toBe("IGNORE")
      NodeFs.rmSync(results, { recursive: true, force: true })
    }), 600_000)

  it.live("--enable-jvm-logs collects the GC log of the JVM a service started (real ZooKeeper)", () =>
    Effect.gen(function*() {
      const results = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "dt-jvm-logs-"))
      const o = yield* ducktape(['examples/zookeeper.ducktape.ts::ZooKeeperTest.servesThroughAnyNode@{"size":1}', "--enable-jvm-logs", "--cluster", "localhost:1"], results)
      expect(failures(o), o.out.slice(-3000)).toEqual([])
      const node = NodePath.join(results, "latest", "examples.zookeeper.ZooKeeperTest.servesThroughAnyNode.size=1", "zookeeper-1", "worker1")
      const gcLogs = NodeFs.readdirSync(NodePath.join(node, "gc")).filter((f) => /^gc-\d+\.log$/.test(f))
      expect(gcLogs.length).toBeGreaterThan(0)
      expect(NodeFs.readFileSync(NodePath.join(node, "gc", gcLogs[0]!), "utf8")).toMatch(/\[info\]\[gc/)
      // The heap dump directory only comes back after a failure.
      expect(NodeFs.existsSync(NodePath.join(node, "heap"))).toBe(false)
      NodeFs.rmSync(results, { recursive: true, force: true })
    }), 300_000)

  it.scopedLive("the ZooKeeper suite forms ensembles on 3 lab hosts over ssh", () =>
    Effect.gen(function*() {
      const { lab, root } = yield* scopedLab("ex", 3)
      const o = yield* ducktape(["--cluster-file", lab.clusterFile, "--max-parallel", "2", "examples/zookeeper.ducktape.ts"], NodePath.join(root, "results"))
      expect(failures(o), o.out.slice(-3000)).toEqual([])
      expect(o.code).toBe(0)
      expect(o.report.results.map((r) => r.status)).toEqual(["PASS", "PASS", "PASS"])
    }), 600_000)
})
