import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Data, Effect, Schedule } from "effect"
import * as Linearizability from "../src/Linearizability.js"
import * as Model from "../src/Model.js"
import * as Workload from "../src/Workload.js"

const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-workload-${process.pid}-`))
afterAll(() => NodeFs.rmSync(dir, { recursive: true, force: true }))

class IoError extends Data.TaggedError("IoError")<{ readonly cause: unknown }> {}

const readOrWrite = (_p: number, rng: Workload.Rng): Workload.Op =>
  rng() < 0.5 ? { f: "read", value: null } : { f: "write", value: Math.floor(rng() * 5) }

describe("Workload", () => {
  it.live("records a register kept in a real file (atomic rename) by 4 clients: linearizable", () =>
    Effect.gen(function*() {
      const path = NodePath.join(dir, "register")
      let tmp = 0
      const invoke = (process: number, op: Workload.Op) =>
        Effect.tryPromise({
          try: async () => {
            if (op.f === "read") {
              const text = await NodeFs.promises.readFile(path, "utf8").catch(() => "null")
              return JSON.parse(text) as unknown
            }
            const t = `${path}.${process}.${tmp++}`
            await NodeFs.promises.writeFile(t, JSON.stringify(op.value))
            await NodeFs.promises.rename(t, path)
            return op.value
          },
          catch: (cause) => new IoError({ cause })
        })
      const { faults, history } = yield* Workload.run({
        clients: 4,
        generator: readOrWrite,
        invoke,
        opsPerClient: 40,
        seed: 7
      })
      expect(faults).toEqual([])
      expect(history.ops).toHaveLength(160)
      expect(new Set(history.ops.map((o) => o.process))).toEqual(new Set([0, 1, 2, 3]))
      expect(history.ops.every((o) => o.outcome === "ok")).toBe(true)
      const v = Linearizability.check(Model.register(), history)
      expect(v._tag, Linearizability.format(v)).toBe("Valid")
    }))

  it.live("runs faults on the same timeline: ops cut off by a fault are info, and the history checks out", () =>
    Effect.gen(function*() {
      // A register behind a "network": while the fault holds, a request reaches the register but its answer is lost.
      let value: unknown = null
      let cut = false
      const invoke = (_p: number, op: Workload.Op) =>
        Effect.suspend(() => {
          const out = op.f === "write" ? (value = op.value) : value
          return cut ? Effect.never : Effect.succeed(out)
        })
      const fault = () =>
        Effect.acquireRelease(
          Effect.sync(() => {
            cut = true
            return { description: "answers lost" }
          }),
          () => Effect.sync(() => void (cut = false))
        )
      const { faults, history } = yield* Workload.run({
        clients: 3,
        generator: readOrWrite,
        invoke,
        schedule: Schedule.spaced("2 millis"),
        opTimeout: "20 millis",
        duration: "400 millis",
        faults: { schedule: Schedule.spaced("60 millis"), fault, hold: "50 millis" }
      })
      expect(faults.length).toBeGreaterThanOrEqual(2)
      for (const f of faults) {
        expect(f.description).toBe("answers lost")
        expect(f.applied).toBeGreaterThanOrEqual(f.started)
        expect(f.healed).toBeGreaterThan(f.applied)
      }
      const info = history.ops.filter((o) => o.outcome === "info")
      expect(info.length).toBeGreaterThan(0)
      // every info op was invoked while a fault held (the only way an answer is lost here)
      for (const o of info) {
        expect(faults.some((f) => f.started <= o.invoke && o.invoke <= (f.healed ?? Infinity))).toBe(true)
      }
      // a client whose op ended info goes on under a new process id, as in Jepsen
      expect(history.ops.some((o) => typeof o.process === "number" && o.process >= 3)).toBe(true)
      const v = Linearizability.check(Model.register(), history)
      expect(v._tag, Linearizability.format(v)).toBe("Valid")
    }))

  it.live("finds a stale read in a service whose reads come from a lagging replica", () =>
    Effect.gen(function*() {
      let primary: unknown = null
      let replica: unknown = null
      let writes = 0
      const invoke = (_p: number, op: Workload.Op) =>
        Effect.sync(() => {
          if (op.f === "read") return replica
          primary = op.value
          // the replica catches up only every third write
          if (++writes % 3 === 0) replica = primary
          return op.value
        }).pipe(Effect.zipLeft(Effect.yieldNow()))
      let next = 0
      const { history } = yield* Workload.run({
        clients: 2,
        generator: (p) => (p === 0 ? { f: "write", value: ++next } : { f: "read", value: null }),
        invoke,
        opsPerClient: 30
      })
      const v = Linearizability.check(Model.register(), history)
      expect(v._tag).toBe("Invalid")
      if (v._tag === "Invalid") expect(v.counterexample.op.f).toBe("read")
    }))

  it.effect("refuses a workload without an end, saying how to give one", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(
        Workload.run({ clients: 2, generator: readOrWrite, invoke: () => Effect.succeed(null) })
      )
      expect(e.message).toContain("a workload needs an end")
      expect(e.message).toContain("opsPerClient")
    }))
})
