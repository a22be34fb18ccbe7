import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"
import type { Event, History, Operation, Outcome, Process } from "../src/History.js"
import * as Linearizability from "../src/Linearizability.js"
import * as Model from "../src/Model.js"
import * as Workload from "../src/Workload.js"

/** An op from a compact spec: [process, f, value, output, invoke, complete, outcome]. */
const op = (
  process: Process,
  f: string,
  value: unknown,
  output: unknown,
  invoke: number,
  complete: number,
  outcome: Outcome = "ok"
): Omit<Operation, "id"> => ({
  process,
  f,
  value,
  ...(outcome === "ok" ? { output } : {}),
  invoke,
  complete,
  outcome
})
const history = (...ops: Array<Omit<Operation, "id">>): History => ({
  ops: ops.map((o, id) => ({ ...o, id })).sort((a, b) => a.invoke - b.invoke)
})
const w = (p: Process, v: unknown, a: number, b: number, outcome: Outcome = "ok") =>
  op(p, "write", v, v, a, b, outcome)
const r = (p: Process, v: unknown, a: number, b: number) => op(p, "read", null, v, a, b)
const cas = (p: Process, from: unknown, to: unknown, a: number, b: number, outcome: Outcome = "ok") =>
  op(p, "cas", [from, to], [from, to], a, b, outcome)
const INFO = Number.MAX_SAFE_INTEGER

const verdict = (model: Model.Model<any>, h: History) => Linearizability.check(model, h)._tag

describe("Linearizability: registers", () => {
  it("accepts a sequential history and rejects a stale read, naming the read in a readable counterexample", () => {
    expect(verdict(Model.register(), history(w(0, 1, 0, 10), r(1, 1, 20, 30), w(0, 2, 40, 50), r(1, 2, 60, 70))))
      .toBe("Valid")
    const v = Linearizability.check(
      Model.register(),
      history(w(0, 1, 0, 10), r(1, 1, 20, 30), w(0, 2, 40, 50), r(1, 1, 60, 70))
    )
    expect(v._tag).toBe("Invalid")
    if (v._tag !== "Invalid") return
    const c = v.counterexample
    expect(c.op).toMatchObject({ f: "read", output: 1, invoke: 60 })
    expect(c.prefix.map((s) => `${s.op.f} ${s.state}`)).toEqual(["write 1", "read 1", "write 2"])
    expect(c.stateBefore).toBe("2")
    const text = Linearizability.format(v)
    expect(text).toContain("NOT linearizable")
    expect(text).toContain("cannot be placed:\n  process 1: read → 1")
    expect(text).toContain("3. process 0: write 2")
    expect(Linearizability.exitCode(v)).toBe(1)
  })

  it("lets concurrent reads see the old and the new value of a write in progress, but not new then old", () => {
    // both reads overlap the write and each other: either order works
    expect(verdict(Model.register(0), history(w(0, 1, 0, 100), r(1, 1, 10, 50), r(2, 0, 20, 60)))).toBe("Valid")
    // the read of 0 begins after the read of 1 ended: the value cannot go back
    expect(verdict(Model.register(0), history(w(0, 1, 0, 100), r(1, 1, 10, 30), r(2, 0, 40, 60)))).toBe("Invalid")
  })

  it("takes an info write when a later read needs it, and only once invoked", () => {
    expect(verdict(Model.register(), history(w(0, 1, 0, 5, "info"), r(1, 1, 1000, 1010)))).toBe("Valid")
    // an info op's effect may land long after its client gave up
    expect(verdict(Model.register(), history(w(0, 1, 0, 5, "info"), r(1, null, 10, 20), r(1, 1, 30, 40))))
      .toBe("Valid")
    // but never before it was invoked
    expect(verdict(Model.register(), history(r(1, 1, 0, 10), w(0, 1, 20, INFO, "info")))).toBe("Invalid")
  })

  it("drops an info write nobody saw, but once seen it cannot be undone", () => {
    expect(verdict(Model.register(), history(w(0, 1, 0, 5, "info"), r(1, null, 10, 20), r(1, null, 30, 40))))
      .toBe("Valid")
    expect(verdict(Model.register(), history(w(0, 1, 0, 5, "info"), r(1, 1, 10, 20), r(1, null, 30, 40))))
      .toBe("Invalid")
  })

  it("ignores failed operations: they definitely did not happen", () => {
    expect(verdict(Model.register(), history(w(0, 1, 0, 5, "fail"), r(1, null, 10, 20)))).toBe("Valid")
    expect(verdict(Model.register(), history(w(0, 1, 0, 5, "fail"), r(1, 1, 10, 20)))).toBe("Invalid")
  })

  it("checks compare-and-set: a cas succeeds only from its expected value", () => {
    const m = Model.casRegister()
    expect(verdict(m, history(w(0, 1, 0, 10), cas(1, 1, 2, 20, 30), r(2, 2, 40, 50)))).toBe("Valid")
    const lone = Linearizability.check(m, history(cas(1, 1, 2, 0, 10)))
    expect(lone._tag).toBe("Invalid")
    expect(Linearizability.format(lone, m)).toContain("cannot be placed:\n  process 1: cas 1→2  [ok")
    // two concurrent cas 1→2 cannot both succeed
    expect(verdict(m, history(w(0, 1, 0, 10), cas(1, 1, 2, 20, 50), cas(2, 1, 2, 25, 55)))).toBe("Invalid")
    // one of them is info: it is dropped
    expect(verdict(m, history(w(0, 1, 0, 10), cas(1, 1, 2, 20, 50), cas(2, 1, 2, 25, 55, "info")))).toBe("Valid")
    // a failed cas does not count, so the read of 2 has no write behind it
    expect(verdict(m, history(w(0, 1, 0, 10), cas(1, 1, 2, 20, 30, "fail"), r(2, 2, 40, 50)))).toBe("Invalid")
    // an info cas that must have happened for the read to see 3
    expect(verdict(m, history(w(0, 1, 0, 10), cas(1, 1, 3, 20, 30, "info"), r(2, 3, 40, 50)))).toBe("Valid")
  })
})

describe("Linearizability: other models", () => {
  it("checks a key-value map key by key and names the key of a violation", () => {
    const kv = (p: number, f: string, k: string, v: unknown, out: unknown, a: number, b: number) =>
      op(p, f, [k, v], [k, out], a, b)
    const h = history(
      kv(0, "write", "a", 1, 1, 0, 10),
      kv(1, "write", "b", 5, 5, 0, 10),
      kv(0, "read", "a", null, 1, 20, 30),
      kv(1, "cas", "b", [5, 6], [5, 6], 20, 30),
      kv(2, "read", "b", null, 5, 40, 50)
    )
    const v = Linearizability.check(Model.kv(), h)
    expect(v).toMatchObject({ _tag: "Invalid", partitions: 2, counterexample: { partition: "b" } })
    if (v._tag === "Invalid") {
      expect(v.counterexample.op).toMatchObject({ f: "read", value: null, output: 5 })
      expect(Linearizability.format(v)).toContain("key b")
    }
    expect(verdict(Model.kv(), history(...h.ops.slice(0, 4)))).toBe("Valid")
  })

  it("checks a set: a read returns exactly the elements added before or during it", () => {
    const add = (p: number, x: number, a: number, b: number) => op(p, "add", x, x, a, b)
    const read = (p: number, xs: Array<number>, a: number, b: number) => op(p, "read", null, xs, a, b)
    expect(verdict(Model.set(), history(add(0, 1, 0, 10), add(1, 2, 5, 30), read(2, [1], 15, 20)))).toBe("Valid")
    expect(verdict(Model.set(), history(add(0, 1, 0, 10), add(1, 2, 5, 30), read(2, [2, 1], 15, 20)))).toBe("Valid")
    expect(verdict(Model.set(), history(add(0, 1, 0, 10), read(2, [], 15, 20)))).toBe("Invalid")
    expect(verdict(Model.set(), history(add(0, 1, 0, 10), read(2, [1, 3], 15, 20)))).toBe("Invalid")
  })

  it("checks a FIFO queue: dequeues come out in the order of enqueues", () => {
    const enq = (p: number, x: number, a: number, b: number) => op(p, "enqueue", x, x, a, b)
    const deq = (p: number, x: number | null, a: number, b: number) => op(p, "dequeue", null, x, a, b)
    expect(verdict(Model.queue(), history(enq(0, 1, 0, 10), enq(0, 2, 20, 30), deq(1, 1, 40, 50)))).toBe("Valid")
    expect(verdict(Model.queue(), history(enq(0, 1, 0, 10), enq(0, 2, 20, 30), deq(1, 2, 40, 50)))).toBe("Invalid")
    // concurrent enqueues may be ordered either way
    expect(verdict(Model.queue(), history(enq(0, 1, 0, 30), enq(1, 2, 5, 35), deq(2, 2, 40, 50), deq(2, 1, 60, 70))))
      .toBe("Valid")
    expect(verdict(Model.queue(), history(deq(2, null, 0, 5), enq(0, 1, 10, 20)))).toBe("Valid")
    expect(verdict(Model.queue(), history(enq(0, 1, 10, 20), deq(2, null, 30, 40)))).toBe("Invalid")
  })

  it("checks a counter: a read sees the sum of the adds before it, plus any concurrent ones", () => {
    const add = (p: number, n: number, a: number, b: number, o: Outcome = "ok") => op(p, "add", n, n, a, b, o)
    const read = (p: number, n: number, a: number, b: number) => op(p, "read", null, n, a, b)
    expect(verdict(Model.counter(), history(add(0, 1, 0, 10), add(1, 2, 5, 50), read(2, 1, 20, 30)))).toBe("Valid")
    expect(verdict(Model.counter(), history(add(0, 1, 0, 10), add(1, 2, 5, 50), read(2, 3, 20, 30)))).toBe("Valid")
    expect(verdict(Model.counter(), history(add(0, 1, 0, 10), add(1, 2, 5, 50), read(2, 2, 20, 30)))).toBe("Invalid")
    expect(verdict(Model.counter(), history(add(0, 5, 0, 10, "info"), read(2, 5, 20, 30)))).toBe("Valid")
  })

  it("checks against a model a user writes with Model.make", () => {
    // a register that only ever grows: a write of a smaller value is refused
    const maxRegister = Model.make<number>({
      name: "max-register",
      fs: ["write", "read"],
      init: () => 0,
      step: (s, o) =>
        o.f === "write"
          ? { ok: true, state: Math.max(s, o.value as number) }
          : { ok: o.output === undefined || o.output === s, state: s },
      key: (s) => s
    })
    expect(verdict(maxRegister, history(w(0, 5, 0, 10), w(0, 3, 20, 30), r(1, 5, 40, 50)))).toBe("Valid")
    expect(verdict(maxRegister, history(w(0, 5, 0, 10), w(0, 3, 20, 30), r(1, 3, 40, 50)))).toBe("Invalid")
    expect(Linearizability.validate(maxRegister, history(op(0, "cas", [1, 2], [1, 2], 0, 1)))?.message)
      .toContain("max-register model knows write, read")
  })
})

describe("Linearizability: limits", () => {
  // Many concurrent writes of distinct values and reads that fit nothing: a search that must try many orders.
  const hard = (writers = 14): History => {
    const ops: Array<Omit<Operation, "id">> = []
    for (let p = 0; p < writers; p++) ops.push(w(p, p, 0, 1000, "info"))
    ops.push(r(20, 99, 10, 20))
    return history(...ops)
  }

  it("answers unknown, never hangs, when the state limit is hit", () => {
    const v = Linearizability.check(Model.register(), hard(), { maxStates: 1000 })
    expect(v).toMatchObject({ _tag: "Unknown", reason: "state-limit" })
    expect(Linearizability.exitCode(v)).toBe(3)
    expect(Linearizability.format(v)).toContain("raise maxStates")
  })

  it("answers unknown when the memo would pass its memory budget", () => {
    const v = Linearizability.check(Model.register(), hard(), { maxMemoBytes: 100_000 })
    expect(v).toMatchObject({ _tag: "Unknown", reason: "state-limit" })
    expect(v.states).toBeLessThan(1000)
  })

  it("answers unknown when the time limit is hit", () => {
    const v = Linearizability.check(Model.register(), hard(), { timeLimit: "1 millis" })
    expect(v).toMatchObject({ _tag: "Unknown", reason: "time-limit" })
  })

  it.live("checkEffect gives other fibers and timers their turns while it searches", () =>
    Effect.gen(function*() {
      let ticks = 0
      // A timer that should fire ~20 times while the check runs: a check holding the thread would starve it.
      const ticker = yield* Effect.fork(Effect.repeat(Effect.sync(() => ticks++), Schedule.spaced("20 millis")))
      // 17 writers: millions of states, far more than 400 ms of search on any machine.
      const started = performance.now()
      const v = yield* Linearizability.checkEffect(Model.register(), hard(17), { timeLimit: "400 millis", maxStates: 1e9 })
      const took = performance.now() - started
      yield* Fiber.interrupt(ticker)
      expect(v).toMatchObject({ _tag: "Unknown", reason: "time-limit" })
      expect(ticks).toBeGreaterThanOrEqual(5)
      // Its millis count the search, not the turns it gave away.
      expect(v.millis).toBeLessThan(took)
    }))

  it.live("checkEffect stops when interrupted, long before its time limit", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const out = yield* Linearizability.checkEffect(Model.register(), hard(17), { timeLimit: "30 seconds", maxStates: 1e9 }).pipe(
        Effect.timeout("100 millis"),
        Effect.option
      )
      expect(out._tag).toBe("None")
      expect(Date.now() - started).toBeLessThan(10_000)
    }))
})

/** Seeded randomness: the same mulberry32 the workloads use. */
const prng = Workload.rng

interface Sequential {
  readonly model: Model.Model<any>
  /** The next op to run against the true state: f, value, output, and the state after. */
  readonly next: (state: any, rnd: () => number) => { f: string; value: unknown; output: unknown; state: any }
  readonly initial: any
  /** A wrong output for a read-like op, or undefined when the op has no output to corrupt. */
  readonly corrupt: (f: string, output: unknown, rnd: () => number) => unknown
}

const casSpec: Sequential = {
  model: Model.casRegister(),
  initial: null,
  next: (s, rnd) => {
    const x = rnd()
    const v = Math.floor(rnd() * 5)
    if (x < 0.4) return { f: "read", value: null, output: s, state: s }
    if (x < 0.7) return { f: "write", value: v, output: v, state: v }
    const from = rnd() < 0.6 ? s : Math.floor(rnd() * 5)
    return from === s
      ? { f: "cas", value: [from, v], output: [from, v], state: v }
      : { f: "write", value: v, output: v, state: v }
  },
  corrupt: (f, out) => (f === "read" ? (out === null ? 7 : (out as number) + 10) : undefined)
}

const queueSpec: Sequential = {
  model: Model.queue(),
  initial: [] as Array<number>,
  next: (s: Array<number>, rnd) => {
    // dequeues a little more often than enqueues, so the queue stays short
    if (rnd() < 0.4) {
      const v = Math.floor(rnd() * 100)
      return { f: "enqueue", value: v, output: v, state: [...s, v] }
    }
    return { f: "dequeue", value: null, output: s[0] ?? null, state: s.slice(1) }
  },
  corrupt: (f, out) => (f === "dequeue" ? (out === null ? 1000 : (out as number) + 1000) : undefined)
}

/**
 * Runs the model sequentially: op k takes effect at time 100k. Its interval is widened around that point by up
 * to `widen` (so ops overlap), and some ops are `info` (effect happened, outcome unknown) or extra `fail` ops
 * (never happened) are mixed in. Such a history is linearizable by construction.
 */
const generate = (spec: Sequential, seed: number, n: number, widen: number, processes: number, faulty = true) => {
  const rnd = prng(seed)
  const ops: Array<Omit<Operation, "id">> = []
  let state = spec.initial
  for (let k = 0; k < n; k++) {
    const at = 100 * (k + 1)
    const step = spec.next(state, rnd)
    state = step.state
    const a = at - Math.floor(rnd() * widen)
    const b = at + 1 + Math.floor(rnd() * widen)
    const p = k % processes
    const x = rnd()
    if (faulty && x < 0.05) {
      ops.push(op(p, step.f, step.value, undefined, a, b, "info"))
    } else {
      ops.push(op(p, step.f, step.value, step.output, a, b))
    }
    if (faulty && x > 0.97) {
      // a failed op: never happened, whatever its value
      ops.push(op(p + processes, "write", 999, undefined, a, b, "fail"))
    }
  }
  return history(...ops)
}

describe("Linearizability: properties (seeded)", () => {
  it("a sequential execution with widened intervals is always linearizable", () => {
    for (const spec of [casSpec, queueSpec]) {
      for (let seed = 1; seed <= 150; seed++) {
        const h = generate(spec, seed, 60, 250, 5)
        const v = Linearizability.check(spec.model, h)
        if (v._tag !== "Valid") throw new Error(`seed ${seed} ${spec.model.name}: ${Linearizability.format(v)}`)
      }
    }
  })

  it("corrupting one read in a history without concurrency always makes it invalid", () => {
    for (const spec of [casSpec, queueSpec]) {
      let corrupted = 0
      for (let seed = 1; seed <= 150; seed++) {
        const rnd = prng(seed * 7919)
        // widen 0: no op overlaps another; no info or fail ops, so every output is pinned down
        const ops = generate(spec, seed, 40, 0, 3, false).ops
        const readable = ops.filter((o) => spec.corrupt(o.f, o.output, rnd) !== undefined)
        if (readable.length === 0) continue
        const target = readable[Math.floor(rnd() * readable.length)]!
        const bad = ops.map((o) => (o === target ? { ...o, output: spec.corrupt(o.f, o.output, rnd) } : o))
        const v = Linearizability.check(spec.model, { ops: bad })
        if (v._tag !== "Invalid") throw new Error(`seed ${seed} ${spec.model.name}: ${v._tag}`)
        expect(v.counterexample.op.id).toBe(target.id)
        corrupted++
      }
      expect(corrupted).toBeGreaterThan(100)
    }
  })

  it("a key-value history of independent valid keys is valid; one corrupted read makes its key invalid", () => {
    const keyed = (o: Omit<Operation, "id">, k: string): Omit<Operation, "id"> => ({
      ...o,
      value: [k, o.value],
      ...(o.output !== undefined ? { output: [k, o.output] } : {})
    })
    for (let seed = 1; seed <= 40; seed++) {
      const keys = ["a", "b", "c"]
      // the keys' histories overlap in time: each is a valid cas-register history of its own
      const ops = keys.flatMap((k, i) => generate(casSpec, seed * 10 + i, 30, 150, 3).ops.map((o) => keyed(o, k)))
      expect(Linearizability.check(Model.kv(), history(...ops))._tag).toBe("Valid")
      const strict = keys.flatMap((k, i) => generate(casSpec, seed * 10 + i, 30, 0, 3, false).ops.map((o) => keyed(o, k)))
      const victim = strict.findIndex((o) => o.f === "read" && (o.value as Array<unknown>)[0] === "b")
      if (victim < 0) continue
      const out = (strict[victim]!.output as [string, unknown])[1]
      strict[victim] = { ...strict[victim]!, output: ["b", casSpec.corrupt("read", out, () => 0)] }
      expect(Linearizability.check(Model.kv(), history(...strict))).toMatchObject({
        _tag: "Invalid",
        counterexample: { partition: "b" }
      })
    }
  })

  it("checks a 2,000-op Jepsen-style register history with 10 clients and info ops", () => {
    const h = generate(casSpec, 42, 2000, 400, 10)
    expect(Linearizability.check(Model.casRegister(), h)._tag).toBe("Valid")
  })
})

// Keep the Event type in use for readers looking for how events relate to ops.
export type { Event }
