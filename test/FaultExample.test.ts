import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Discovery from "../src/Discovery.js"
import { ducktape } from "./support/cli.js"
import { scopedLab } from "./support/lab.js"

const example = "examples/zookeeper-partition.ducktape.ts"

describe("the ZooKeeper partition example", () => {
  it.live("passes on a 3-host lab, run through the CLI, and records its partition", () =>
    Effect.gen(function*() {
      const { lab, root } = yield* scopedLab("fx", 3)
      const results = NodePath.join(root, "results")

      // No DUCKTAPE_LAB here: the CLI sets it because the cluster file is a lab's.
      const ran = yield* ducktape(["--cluster-file", lab.clusterFile, "--results-root", results, example], { DUCKTAPE_LAB: undefined })
      const report = JSON.parse(NodeFs.readFileSync(NodePath.join(results, "latest", "report.json"), "utf8"))
      const [result] = report.results
      expect({ code: ran.code, status: result?.status, summary: result?.summary }).toEqual({
        code: 0,
        status: "PASS",
        summary: "Test Passed"
      })
      expect(report.results).toHaveLength(1)
      expect(result.data.newLeader).not.toBe(result.data.oldLeader)
      // The partition is in the results, healed, with the leader alone on one side.
      expect(result.faults).toHaveLength(1)
      expect(result.faults[0]).toMatchObject({ kind: "partition", target: expect.stringMatching(new RegExp(`^${result.data.oldLeader} \\| `)) })
      expect(result.faults[0].healedAt).toBeGreaterThan(result.faults[0].appliedAt)
    }).pipe(Effect.scoped), 300_000)

  it.effect("is IGNORE where DUCKTAPE_LAB is not 1 (e.g. `ducktape examples` on the localhost cluster)", () =>
    Effect.gen(function*() {
      expect(process.env["DUCKTAPE_LAB"]).not.toBe("1")
      const found = yield* Discovery.discover({ paths: [example] })
      expect(found.cases).toHaveLength(1)
      expect(found.cases[0]!.ignored).toContain("needs DUCKTAPE_LAB=\"1\"")
    }))
})
