/**
 * ZooKeeper under a network partition: the leader is cut off from both followers; the majority elects a new
 * leader and keeps taking writes; once the partition heals, the old leader rejoins as a follower and every server
 * serves the same data.
 *
 * Network faults need hosts with their own network stacks, so this suite runs only when DUCKTAPE_LAB=1 (it is
 * IGNORE elsewhere, e.g. in `ducktape examples` on the localhost cluster). `ducktape` sets DUCKTAPE_LAB=1 itself
 * when its --cluster-file was written by `ducktape lab up`:
 *
 *   npx ducktape lab up --nodes 3
 *   npx ducktape --cluster-file .ducktape/lab/cluster.json examples/zookeeper-partition.ducktape.ts
 *   npx ducktape lab down
 */
import { Effect } from "effect"
import { type ClusterNode, Fault, Test, Wait } from "ducktape-effect"
import { mode, ZooKeeper, zkCli } from "./zookeeper/ZooKeeper.js"

/** How long the ensemble may take to notice and to recover: generous, as elections on a busy machine vary. */
const recovery = { timeout: "2 minutes", backoff: "500 millis", retryOnError: true } as const

export const ZooKeeperPartitionTest = Test.suite("ZooKeeperPartitionTest", {
  /** Partition the leader away from the two followers, then heal. */
  leaderPartitionedAway: Test.make({ cluster: 3, timeout: "6 minutes", env: { DUCKTAPE_LAB: "1" } }, () =>
    Effect.gen(function*() {
      // tickTime 1000 halves the failure detection time (syncLimit × tickTime) of the default, nothing else.
      const zk = yield* ZooKeeper.start({ config: { tickTime: 1000 } })
      const server = (n: ClusterNode) => `${n.account.externallyRoutableIp}:${zk.config.clientPort}`
      const ownMode = (n: ClusterNode) => mode(n, n, zk.config.clientPort)

      const roles = yield* Effect.forEach(zk.nodes, ownMode)
      const oldLeader = zk.nodes[roles.indexOf("leader")]
      if (oldLeader === undefined) return yield* new Test.AssertionFailed({ message: `no leader among ${roles.join(", ")}` })
      const followers = zk.nodes.filter((n) => n !== oldLeader)
      const majority = followers.map(server).join(",")
      yield* zkCli(followers[0]!, majority, "create", "/before", "ok")

      const partitioned = Date.now()
      const { elected: newLeader, electedAfterSeconds } = yield* Effect.scoped(Effect.gen(function*() {
        yield* Fault.partition([[oldLeader], followers])

        // The majority elects a leader of its own; the cut-off leader, without a quorum, stops leading.
        yield* Wait.waitUntil(Effect.map(Effect.forEach(followers, ownMode), (m) => m.includes("leader")), {
          ...recovery,
          errMsg: `the followers ${followers.map((f) => f.name).join(", ")} elected no new leader`
        })
        const electedAfterSeconds = (Date.now() - partitioned) / 1000
        yield* Wait.waitUntil(Effect.map(ownMode(oldLeader), (m) => m !== "leader"), {
          ...recovery,
          errMsg: `${oldLeader.name} still claims to lead without a quorum`
        })
        const modes = yield* Effect.forEach(followers, ownMode)
        const elected = followers[modes.indexOf("leader")]
        if (elected === undefined) return yield* new Test.AssertionFailed({ message: `no leader among the followers: ${modes.join(", ")}` })

        // Writes go on in the majority, through either server.
        yield* zkCli(followers[0]!, majority, "create", "/during", "first")
        yield* zkCli(followers[1]!, server(followers[1]!), "set", "/during", "second")
        return { elected, electedAfterSeconds }
      }))

      // Healed: the old leader rejoins as a follower and catches up; every server then serves the same data.
      yield* Wait.waitUntil(Effect.map(ownMode(oldLeader), (m) => m === "follower"), {
        ...recovery,
        errMsg: `${oldLeader.name} did not rejoin as a follower`
      })
      const values = yield* Effect.forEach(zk.nodes, (n) =>
        Effect.map(zkCli(n, server(n), "get", "/during"), (out) => out.includes("second") ? "second" : out.trim()))
      yield* Test.checkEqual(values, zk.nodes.map(() => "second"), "/during on every server")
      const before = yield* zkCli(oldLeader, server(oldLeader), "get", "/before")
      yield* Test.check(before.includes("ok"), `${oldLeader.name} lost /before: ${JSON.stringify(before)}`)

      return { oldLeader: oldLeader.name, newLeader: newLeader.name, electedAfterSeconds }
    }))
})
