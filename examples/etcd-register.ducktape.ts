/**
 * etcd as a register under partitions, checked for linearizability as Jepsen would: six clients (two per member)
 * read, write and compare-and-set one key while members are cut off from the other two. Every
 * operation is recorded (a timeout is `info`: it may or may not have happened) and the history is checked against
 * a CAS-register model.
 *
 * - With linearizable reads (etcd's default: a read goes through the leader's quorum), the history is linearizable:
 *   a cut-off member's clients just time out.
 * - With serializable reads (`serializable: true`: the member answers from its own state), a cut-off member keeps
 *   answering with the value it had when it was cut off, while the majority moves on — stale reads, which the
 *   checker finds and explains.
 *
 * Network faults need hosts with their own network stacks: the suite runs where DUCKTAPE_LAB=1 (a lab or a
 * Docker cluster sets it), and is IGNORE on the localhost cluster.
 *
 *   npx ducktape lab up --nodes 3
 *   npx ducktape --cluster-file .ducktape/lab/cluster.json examples/etcd-register.ducktape.ts
 */
import { Effect, Schedule } from "effect"
import { Fault, Linearizability, Model, Test, Workload } from "ducktape-effect"
import { client, Etcd, EtcdRejected, type ReadMode } from "./etcd/Etcd.js"

const key = "register"

/** Reads half the time, writes of 0–4 and CAS between them the rest. */
const generator = (_process: number, rng: Workload.Rng): Workload.Op => {
  const r = rng()
  const v = () => Math.floor(rng() * 5)
  return r < 0.5 ? { f: "read", value: null } : r < 0.8 ? { f: "write", value: v() } : { f: "cas", value: [v(), v()] }
}

/**
 * The workload on a fresh 3-member etcd, 12 s in all, with members partitioned away for 3 s at a time: each in turn
 * (`rotating`), or only the first, once, its clients reading only (`stale-reads`: no write waits on a member that
 * cannot commit, so no operation ends unknown and the checker's answer comes at once).
 */
const registerWorkload = (reads: ReadMode, faults: "rotating" | "stale-reads") =>
  Effect.gen(function*() {
    const etcd = yield* Etcd.start()
    const clients = etcd.nodes.map((member) => client(etcd, member, "1 second"))
    const memberOf = (process: number) => process % clients.length
    yield* clients[0]!.write(key, 0)
    const result = yield* Workload.run({
      clients: 6,
      generator: (process, rng) =>
        faults === "stale-reads" && memberOf(process) === 0 ? { f: "read", value: null } : generator(process, rng),
      invoke: (process, op) => {
        const c = clients[memberOf(process)]!
        return op.f === "read"
          ? c.read(key, reads)
          : op.f === "write"
          ? Effect.as(c.write(key, op.value as number), op.value)
          : Effect.as(c.cas(key, ...(op.value as [number, number])), op.value)
      },
      definitelyFailed: (e) => e instanceof EtcdRejected,
      schedule: Schedule.spaced("25 millis"),
      duration: "12 seconds",
      seed: 7,
      faults: {
        schedule: faults === "rotating" ? Schedule.spaced("1 second") : Schedule.once,
        fault: (tick) => {
          const alone = etcd.nodes[faults === "rotating" ? tick % etcd.nodes.length : 0]!
          return Fault.partition([[alone], etcd.nodes.filter((n) => n !== alone)])
        },
        hold: "3 seconds"
      }
    })
    const model = Model.casRegister(0)
    const verdict = yield* Linearizability.checkEffect(model, result.history, { timeLimit: "60 seconds" })
    // Into the test's results (histories/register.*) and its report: lanes, latency and rate, faults shaded.
    yield* Test.recordHistory("register", result, { model, verdict, failOnInvalid: false })
    return { result, verdict, model }
  })

export const EtcdRegisterTest = Test.suite("EtcdRegisterTest", {
  /** Linearizable reads: the history under partitions is linearizable. */
  linearizableReads: Test.make({ cluster: 3, timeout: "4 minutes", env: { DUCKTAPE_LAB: "1" } }, () =>
    Effect.gen(function*() {
      const { result, verdict, model } = yield* registerWorkload("linearizable", "rotating")
      yield* Test.check(verdict._tag === "Valid", Linearizability.format(verdict, model))
      return { ops: result.history.ops.length, faults: result.faults.length, verdict: verdict._tag }
    })),

  /** Serializable reads from a cut-off member: stale values, found by the checker with a counterexample. */
  serializableReadsAreStale: Test.make({ cluster: 3, timeout: "4 minutes", env: { DUCKTAPE_LAB: "1" } }, () =>
    Effect.gen(function*() {
      const { result, verdict, model } = yield* registerWorkload("serializable", "stale-reads")
      yield* Test.check(verdict._tag === "Invalid", `expected stale reads, got: ${Linearizability.format(verdict, model)}`)
      return { ops: result.history.ops.length, faults: result.faults.length, counterexample: Linearizability.format(verdict, model) }
    }))
})
