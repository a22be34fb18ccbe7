import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Data, Deferred, Effect, Either, Fiber, TestClock } from "effect"
import * as History from "../src/History.js"
import * as Linearizability from "../src/Linearizability.js"
import * as Model from "../src/Model.js"

const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-history-${process.pid}-`))
afterAll(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
const file = (name: string, text: string) => {
  const path = NodePath.join(dir, name)
  NodeFs.writeFileSync(path, text)
  return path
}

class Refused extends Data.TaggedError("Refused")<{}> {}
class Timeout extends Data.TaggedError("Timeout")<{}> {}

const parsed = (text: string) => {
  const h = History.parse(text, { source: "h" })
  if (Either.isLeft(h)) throw new Error(h.left.message)
  return h.right
}
const parseError = (text: string) => {
  const h = History.parse(text, { source: "h" })
  if (Either.isRight(h)) throw new Error("expected a parse error")
  return h.left
}
const brief = (h: History.History) =>
  h.ops.map((o) => [o.process, o.f, o.value, o.output, o.outcome, o.invoke, o.complete])

describe("History: recording", () => {
  it.effect("records ok, fail and info outcomes; the user's predicate decides what definitely failed", () =>
    Effect.gen(function*() {
      const rec = yield* History.make
      const opts = { definitelyFailed: (e: Refused | Timeout) => e._tag === "Refused" }
      yield* rec.record(0, "write", 1, Effect.as(TestClock.adjust("10 millis"), "done"), { output: () => 1 })
      yield* Effect.either(rec.record(1, "write", 2, Effect.fail(new Refused()), opts))
      yield* Effect.either(rec.record(1, "cas", [1, 3], Effect.fail(new Timeout()), opts))
      yield* Effect.exit(rec.record(2, "read", null, Effect.die("boom")))
      const h = yield* rec.history
      expect(brief(h)).toEqual([
        [0, "write", 1, 1, "ok", 0, 10_000_000],
        [1, "write", 2, undefined, "fail", 10_000_000, 10_000_000],
        [1, "cas", [1, 3], undefined, "info", 10_000_000, 10_000_000],
        [2, "read", null, undefined, "info", 10_000_000, 10_000_000]
      ])
    }))

  it.effect("records an interrupted client as info, and passes the client's own result through", () =>
    Effect.gen(function*() {
      const rec = yield* History.make
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        rec.record(0, "write", 5, Effect.zipRight(Deferred.succeed(started, undefined), Effect.never))
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(yield* rec.record(1, "read", null, Effect.succeed(5))).toBe(5)
      const h = yield* rec.history
      expect(h.ops.map((o) => [o.f, o.outcome])).toEqual([["write", "info"], ["read", "ok"]])
      // the interrupted write may have happened: a read of 5 is fine
      expect(Linearizability.check(Model.register(), h)._tag).toBe("Valid")
    }))

  it.effect("records concurrent clients into one history, with an operation still running shown as info", () =>
    Effect.gen(function*() {
      const rec = yield* History.make
      const gate = yield* Deferred.make<void>()
      const slow = yield* Effect.fork(rec.record(9, "write", 1, Deferred.await(gate)))
      yield* Effect.forEach(
        [0, 1, 2, 3],
        (p) => rec.record(p, "read", null, Effect.as(TestClock.adjust("1 millis"), null)),
        { concurrency: "unbounded" }
      )
      const during = yield* rec.history
      expect(during.ops.find((o) => o.process === 9)?.outcome).toBe("info")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(slow)
      const h = yield* rec.history
      expect(h.ops).toHaveLength(5)
      expect(h.ops.every((o) => o.outcome === "ok")).toBe(true)
      expect(h.ops[0]!.process).toBe(9)
    }))

  it.effect("rejects a history where one process ran two operations at once", () =>
    Effect.gen(function*() {
      const rec = yield* History.make
      const gate = yield* Deferred.make<void>()
      yield* Effect.fork(rec.record(0, "write", 1, Deferred.await(gate)))
      yield* Effect.yieldNow()
      yield* rec.record(0, "read", null, Effect.succeed(null))
      const e = yield* Effect.flip(rec.history)
      expect(e.message).toContain("process 0 invokes")
      expect(e.message).toContain("still open")
    }))
})

const ednVector = `[{:type :invoke, :f :write, :value 1, :process 0, :time 10, :index 0}
 {:type :invoke, :f :read, :value nil, :process 1, :time 20, :index 1}
 {:type :ok, :f :write, :value 1, :process 0, :time 30, :index 2}
 {:type :ok, :f :read, :value 1, :process 1, :time 40, :index 3}
 {:type :invoke, :f :start, :value nil, :process :nemesis, :time 45}
 {:type :info, :f :start, :value "partitioned", :process :nemesis, :time 46}
 {:type :invoke, :f :cas, :value [1 2], :process 0, :time 50, :index 4}
 {:type :info, :f :cas, :value [1 2], :process 0, :time 60, :index 5, :error :timeout}
 {:type :invoke, :f :read, :value nil, :process 1, :time 70, :index 6}
 {:type :ok, :f :read, :value 2, :process 1, :time 80, :index 7}]
`

describe("History: files", () => {
  it("reads Jepsen's history.edn as a vector, skipping the nemesis", () => {
    const h = parsed(ednVector)
    expect(brief(h)).toEqual([
      [0, "write", 1, 1, "ok", 10, 30],
      [1, "read", null, 1, "ok", 20, 40],
      [0, "cas", [1, 2], undefined, "info", 50, 60],
      [1, "read", null, 2, "ok", 70, 80]
    ])
    expect(h.ops[2]!.line).toBe(7)
    expect(Linearizability.check(Model.casRegister(), h)._tag).toBe("Valid")
  })

  it("reads one EDN map per line, with tagged ops, comments, strings, maps and sets", () => {
    const h = parsed(`; a comment
#jepsen.history.Op{:index 0, :time 1, :type :invoke, :process 0, :f :add, :value "a \\"b\\"", :extra {:k [1 2.5 -3N]}}
{:index 1, :time 2, :type :ok, :process 0, :f :add, :value "a \\"b\\""}
{:index 2, :time 3, :type :invoke, :process 1, :f :read, :value nil}
{:index 3, :time 4, :type :ok, :process 1, :f :read, :value #{"a \\"b\\""}}
`)
    expect(brief(h)).toEqual([
      [0, "add", 'a "b"', 'a "b"', "ok", 1, 2],
      [1, "read", null, ['a "b"'], "ok", 3, 4]
    ])
    expect(Linearizability.check(Model.set(), h)._tag).toBe("Valid")
  })

  it("reads Jepsen's log lines, ignoring other log lines", () => {
    const h = parsed(`2017-03-01 12:00:00,001{GMT}	INFO	[main] jepsen.core - Running test
INFO  jepsen.util - 3	:invoke	:write	4
INFO  jepsen.util - 1	:invoke	:cas	[4 2]
INFO  jepsen.util - 3	:ok	:write	4
INFO  jepsen.util - :nemesis	:info	:start	nil
INFO  jepsen.util - 1	:fail	:cas	[4 2]
INFO  jepsen.util - 3	:invoke	:read	nil
INFO  jepsen.util - 3	:ok	:read	4
`)
    expect(brief(h)).toEqual([
      [3, "write", 4, 4, "ok", 1, 3],
      [1, "cas", [4, 2], undefined, "fail", 2, 5],
      [3, "read", null, 4, "ok", 6, 7]
    ])
    expect(h.ops[1]!.line).toBe(3)
    // some Jepsen logs separate the fields with spaces
    const spaced = parsed("INFO  jepsen.util - 1   :invoke :cas    [1 2]\nINFO  jepsen.util - 1   :info   :cas    :timed-out\n")
    expect(brief(spaced)).toEqual([[1, "cas", [1, 2], undefined, "info", 0, 1]])
  })

  it("reads our JSON Lines, events or ops, and writes histories that read back the same", () => {
    const h = parsed(ednVector)
    const jsonl = History.toJsonLines(h)
    expect(jsonl.split("\n")[0]).toBe(
      '{"process":0,"f":"write","value":1,"output":1,"invoke":10,"complete":30,"outcome":"ok"}'
    )
    expect(brief(parsed(jsonl))).toEqual(brief(h))
    expect(brief(parsed(History.toEdn(h)))).toEqual(brief(h))
    const events = History.toEvents(h).map((e) => JSON.stringify(e)).join("\n")
    expect(events.split("\n")[0]).toBe('{"type":"invoke","process":0,"f":"write","value":1,"time":10}')
    expect(brief(parsed(events))).toEqual(brief(h))
  })

  it("names the line and what was expected for malformed input", () => {
    const e1 = parseError('{"type":"invoke","process":0,"f":"read","value":null,"time":1}\n{"type":"ok", oops}\n')
    expect(e1.line).toBe(2)
    expect(e1.message).toContain("h:2: expected a JSON object")
    const e2 = parseError("{:type :invoke, :f :read, :process 0}\n{:type :done, :f :read, :process 0}\n")
    expect(e2.message).toContain("h:2: expected :type to be one of invoke, ok, fail, info, found \"done\"")
    const e3 = parseError("[{:type :invoke, :f :read, :process 0}\n {:type :ok, :f :read, :process 0, :value [1 2}]")
    expect(e3.line).toBe(2)
    expect(e3.message).toContain("EDN syntax")
    const e4 = parseError("INFO  jepsen.util - 3\t:invoke\t:read\t[1 2\n")
    expect(e4.message).toContain("h:1: the value is not EDN")
    const e6 = parseError("INFO  jepsen.util - 3\t:invoke\t:read\tnil\nINFO  jepsen.util - :ok 3\n")
    expect(e6.message).toContain("h:2: expected an op: process, :type")
    const e5 = parseError("{:type :invoke, :f :read, :process nil, :time 1}")
    expect(e5.message).toContain("expected :process to be a number, found nil")
    expect(e5.fix).toContain(":type :invoke")
  })

  it("rejects a completion before its invocation and a process with two open ops, naming both ops", () => {
    const back = parseError(
      "{:type :invoke, :f :write, :value 1, :process 0, :time 50}\n{:type :ok, :f :write, :value 1, :process 0, :time 40}\n"
    )
    expect(back.message).toContain("h:2: completion line 2 (process 0 ok write 1) (time 40) precedes its invocation line 1")
    const two = parseError(
      "{:type :invoke, :f :write, :value 1, :process 0, :time 1}\n{:type :invoke, :f :read, :value nil, :process 0, :time 2}\n"
    )
    expect(two.message).toContain("process 0 invokes line 2 (process 0 invoke read nil) while its operation line 1")
    const orphan = parseError("{:type :ok, :f :read, :value 3, :process 4, :time 2}\n")
    expect(orphan.message).toContain("has no open invocation of process 4")
  })

  it.effect("checks a file with the exit code the CLI gives: valid, invalid, bad input, unknown model op", () =>
    Effect.gen(function*() {
      const good = file("good.edn", ednVector)
      expect(Linearizability.exitCode(yield* Linearizability.checkFile(good, Model.casRegister()))).toBe(0)
      const bad = file("bad.edn", ednVector.replace(":value 2, :process 1, :time 80", ":value 3, :process 1, :time 80"))
      const v = yield* Linearizability.checkFile(bad, Model.casRegister())
      expect(v._tag).toBe("Invalid")
      expect(Linearizability.format(v)).toContain("line 9")
      const unknownOp = yield* Effect.flip(Linearizability.checkFile(good, Model.register()))
      expect(unknownOp.message).toContain("the register model knows read, write")
      expect(unknownOp.line).toBe(7)
      const missing = yield* Effect.flip(Linearizability.checkFile(NodePath.join(dir, "nope.edn"), Model.register()))
      expect(missing.message).toContain("cannot read the file: ENOENT")
      expect((yield* History.fromFile(good)).ops).toHaveLength(4)
    }))
})
