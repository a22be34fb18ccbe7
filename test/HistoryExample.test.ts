import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ducktape } from "./support/cli.js"
import { scopedLab } from "./support/lab.js"

const example = "examples/etcd-register.ducktape.ts"

describe("the etcd register example (operation histories under partitions)", () => {
  it.live("on a 3-host lab: linearizable reads check out, serializable reads from a cut-off member are found stale", () =>
    Effect.gen(function*() {
      const { lab, root } = yield* scopedLab("hx", 3)
      const results = NodePath.join(root, "results")
      const ran = yield* ducktape(["--cluster-file", lab.clusterFile, "--results-root", results, example], { DUCKTAPE_LAB: undefined })
      const report = JSON.parse(NodeFs.readFileSync(NodePath.join(results, "latest", "report.json"), "utf8"))
      const byName = new Map<string, any>(report.results.map((r: any) => [r.testId.split(".").at(-1), r]))
      expect(ran.code, (ran.stdout + ran.stderr).slice(-3000)).toBe(0)
      const linearizable = byName.get("linearizableReads")
      expect(linearizable.status).toBe("PASS")
      expect(linearizable.data.verdict).toBe("Valid")
      expect(linearizable.data.ops).toBeGreaterThan(200)
      expect(linearizable.data.faults).toBeGreaterThan(0)
      // The anomaly is real and explained: an operation that cannot be placed, and the prefix before it.
      const stale = byName.get("serializableReadsAreStale")
      expect(stale.status).toBe("PASS")
      expect(stale.data.counterexample).toMatch(/^NOT linearizable/)
      expect(stale.data.counterexample).toContain("This operation cannot be placed")
      expect(stale.data.counterexample).toMatch(/read/)
      // Both histories are attached to their tests, with their pictures beside them.
      expect(linearizable.histories?.[0]).toMatchObject({ name: "register", verdict: "Valid" })
      expect(stale.histories?.[0]).toMatchObject({ name: "register", verdict: "Invalid" })
      const dir = NodePath.join(results, "latest", stale.resultsDir, "histories")
      expect(NodeFs.readdirSync(dir)).toEqual(expect.arrayContaining(["register.jsonl", "register.latency.svg", "register.rate.svg"]))
    }).pipe(Effect.scoped), 300_000)
})
