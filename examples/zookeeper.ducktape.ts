/**
 * ZooKeeper: an ensemble serves reads and writes through any node, and stays available while a node is bounced.
 */
import { Effect, Exit, Fiber, Schedule } from "effect"
import { Test, Wait } from "ducktape-effect"
import { connectString, mode, ZooKeeper, zkCli } from "./zookeeper/ZooKeeper.js"

export const ZooKeeperTest = Test.suite("ZooKeeperTest", {
  /** Write through the first server, read the value back through every server. */
  servesThroughAnyNode: Test.make(
    { matrix: { size: [1, 3] }, cluster: ({ size }) => size, timeout: "3 minutes" },
    ({ size }) =>
      Effect.gen(function*() {
        const zk = yield* ZooKeeper.start({ numNodes: size })
        const first = zk.node(1)
        yield* zkCli(first, connectString(zk), "create", "/greeting", "hello")
        for (const node of zk.nodes) {
          const server = `${node.account.externallyRoutableIp}:${zk.config.clientPort}`
          const out = yield* zkCli(node, server, "get", "/greeting")
          yield* Test.check(out.includes("hello"), `${zk.who(node)} returned ${JSON.stringify(out)}`)
        }
        const modes = yield* Effect.forEach(zk.nodes, (n) => mode(first, n))
        yield* Test.check(size === 1 ? modes[0] === "standalone" : modes.filter((m) => m === "leader").length === 1,
          `unexpected roles ${modes.join(",")}`)
        return { modes }
      })
  ),

  /** A client keeps writing while one follower is restarted: the ensemble never stops serving. */
  survivesBounce: Test.make({ cluster: 3, timeout: "4 minutes" }, () =>
    Effect.gen(function*() {
      const zk = yield* ZooKeeper.start()
      const first = zk.node(1)
      const servers = connectString(zk)
      yield* zkCli(first, servers, "create", "/counter", "0")
      let writes = 0
      // The background client: one write per round. A write caught by the bounce may lose its connection;
      // like any ZooKeeper client it retries, and the test fails if a write cannot be made at all.
      const client = yield* zkCli(first, servers, "set", "/counter", String(writes + 1)).pipe(
        Effect.retry(Schedule.spaced("500 millis").pipe(Schedule.compose(Schedule.recurs(10)))),
        Effect.tap(() => Effect.sync(() => writes++)),
        Effect.repeat(Schedule.spaced("200 millis")),
        Effect.fork
      )
      const roles = yield* Effect.forEach(zk.nodes, (n) => mode(first, n))
      const follower = zk.nodes[roles.findIndex((r) => r === "follower")]!
      yield* zk.restartNode(follower)
      const before = writes
      yield* Wait.waitUntil(Effect.sync(() => writes >= before + 2), {
        timeout: "60 seconds",
        errMsg: `writes stopped after ${zk.who(follower)} was bounced`
      })
      const stopped = yield* Fiber.interrupt(client)
      yield* Test.check(!Exit.isFailure(stopped) || Exit.isInterrupted(stopped), "the background client failed")
      const value = yield* zkCli(first, servers, "get", "/counter")
      return { writes, bounced: follower.name, lastValue: value.trim().split("\n").pop() }
    }))
})
