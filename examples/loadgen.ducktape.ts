/**
 * Background workers: a producer node generates numbered messages at a steady pace through Redis, a consumer
 * node receives them; every message arrives exactly once, and stopping the producer stops its remote process.
 */
import { Effect } from "effect"
import { type ClusterNode, Test, Wait } from "ducktape-effect"
import { brokerOf, Consumer, Producer, progress } from "./loadgen/LoadGen.js"
import { cli, Redis } from "./redis/Redis.js"

/**
 * The live (non-zombie) processes of a process group. A killed process stays a zombie until its parent reaps
 * it, and `kill -0` still finds a zombie: what matters here is whether anything of the group still runs.
 */
const running = (node: ClusterNode, group: number) =>
  node.account.sshOutput(["ps", "-e", "-o", "pgid=,stat=,pid=,args="]).pipe(
    Effect.map((out) =>
      out.split("\n").map((l) => l.trim().split(/\s+/))
        .filter(([pgid, stat]) => Number(pgid) === group && !stat?.startsWith("Z"))
        .map((fields) => fields.slice(2).join(" "))
    )
  )

export const LoadGenTest = Test.suite("LoadGenTest", {
  /** 200 messages from producer to consumer: none lost, none duplicated. */
  deliversEveryMessageOnce: Test.make({ cluster: 3, timeout: "2 minutes" }, () =>
    Effect.gen(function*() {
      const messages = 200
      const redis = yield* Redis.start()
      const broker = brokerOf(redis)
      const consumer = yield* Consumer.start({ config: { broker } })
      const started = Date.now()
      const producer = yield* Producer.start({ config: { broker, messages } })
      // The producer's worker ends when its generator does: every message has been acknowledged by Redis.
      yield* producer.wait("1 minute")
      const producedMs = Date.now() - started
      const sent = progress(producer).messages
      const received = progress(consumer).messages
      yield* Wait.waitUntil(Effect.sync(() => received.length >= messages), {
        timeout: "10 seconds",
        errMsg: () => `the consumer received ${received.length} of ${messages} messages`
      })
      yield* consumer.stopNode(consumer.node(1))

      const expected = Array.from({ length: messages }, (_, i) => i + 1)
      const seen = new Set(received)
      const missing = expected.filter((n) => !seen.has(n))
      const duplicates = received.filter((n, i) => received.indexOf(n) !== i)
      yield* Test.checkEqual(sent, expected, "messages the producer had acknowledged")
      yield* Test.checkEqual({ missing, duplicates }, { missing: [], duplicates: [] }, "delivery")
      yield* Test.checkEqual(yield* cli(redis, redis.node(1), ["LLEN", broker.key]), "0", "messages left in the list")
      return {
        messages,
        received: received.length,
        inOrder: received.every((n, i) => n === i + 1),
        producedMs,
        messagesPerSecond: Math.round((messages * 1000) / producedMs)
      }
    })),

  /** Stopping the producer mid-run (it interrupts the worker) kills its generator on the node. */
  stopKillsTheGenerator: Test.make({ cluster: 2, timeout: "2 minutes" }, () =>
    Effect.gen(function*() {
      const redis = yield* Redis.start()
      const broker = brokerOf(redis)
      const producer = yield* Producer.start({ config: { broker, messages: 1_000_000 } })
      const state = progress(producer)
      yield* Wait.waitUntil(Effect.sync(() => state.messages.length >= 20), {
        timeout: "30 seconds",
        errMsg: () => `the producer sent only ${state.messages.length} messages`
      })
      const node = producer.node(1)
      const pid = state.pid
      if (pid === undefined) return yield* Test.check(false, "the producer never reported its pid")
      const group = Number(yield* node.account.sshOutput(["ps", "-o", "pgid=", "-p", String(pid)]))
      yield* Test.check((yield* running(node, group)).length > 0, `generator ${pid} is not running before the stop`)

      yield* producer.stopNode(node)
      const left = yield* running(node, group)
      yield* Test.check(left.length === 0, () => `processes of the generator's group ${group} still run: ${left.join("; ")}`)
      const length = yield* cli(redis, redis.node(1), ["LLEN", broker.key])
      yield* Effect.sleep("500 millis")
      yield* Test.checkEqual(yield* cli(redis, redis.node(1), ["LLEN", broker.key]), length, "list length after the stop")
      return { pid, sentBeforeStop: state.messages.length, listLength: Number(length) }
    }))
})
