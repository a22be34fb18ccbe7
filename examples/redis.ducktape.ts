/**
 * Redis replication: replicas catch up with what the primary writes; after the primary crashes, a replica is
 * promoted, the other replica follows it, and writes go on through the new primary.
 */
import { Effect } from "effect"
import { type ClusterNode, Test, Wait } from "ducktape-effect"
import { cli, crash, dbsize, info, pidOf, Redis, type RunningRedis, writeKeys } from "./redis/Redis.js"

/** Waits until each replica has a live link to the primary at `primary` (an address). */
const waitLinked = (redis: RunningRedis, replicas: ReadonlyArray<ClusterNode>, primary: string) => {
  let seen: ReadonlyArray<string> = []
  return Wait.waitUntil(
    Effect.forEach(replicas, (r) => info(redis, r, "replication")).pipe(
      Effect.tap((infos) => (seen = infos.map((i) => `${i.master_host}:${i.master_link_status}`))),
      Effect.map((infos) => infos.every((i) => i.master_host === primary && i.master_link_status === "up"))
    ),
    { timeout: "30 seconds", errMsg: () => `replicas not linked to ${primary}: ${seen.join(", ")}` }
  )
}

/** Waits until every node holds exactly `count` keys. */
const waitForKeys = (redis: RunningRedis, nodes: ReadonlyArray<ClusterNode>, count: number) => {
  let sizes: ReadonlyArray<number> = []
  return Wait.waitUntil(
    Effect.forEach(nodes, (n) => dbsize(redis, n)).pipe(
      Effect.tap((s) => (sizes = s)),
      Effect.map((s) => s.every((n) => n === count))
    ),
    { timeout: "30 seconds", errMsg: () => `expected ${count} keys on every replica, saw ${sizes.join(", ")}` }
  )
}

export const RedisTest = Test.suite("RedisTest", {
  /** Write keys on the primary; both replicas end with every key and at the primary's replication offset. */
  replicationCatchesUp: Test.make({ cluster: 3, timeout: "2 minutes" }, () =>
    Effect.gen(function*() {
      const redis = yield* Redis.start({ numNodes: 3 })
      const primary = redis.node(1)
      const replicas = redis.nodes.slice(1)
      yield* waitLinked(redis, replicas, primary.account.externallyRoutableIp)

      const keys = 2000
      const started = Date.now()
      yield* writeKeys(redis, primary, "key", keys)
      const written = Date.now()
      yield* waitForKeys(redis, replicas, keys)
      const caughtUp = Date.now()

      // Same key count could still hide a lag; equal offsets mean every byte of the stream was applied.
      let offsets: ReadonlyArray<number> = []
      yield* Wait.waitUntil(
        Effect.forEach(redis.nodes, (n) => info(redis, n, "replication")).pipe(
          Effect.map(([p, ...rs]) => [p?.master_repl_offset, ...rs.map((r) => r.slave_repl_offset)].map(Number)),
          Effect.tap((o) => (offsets = o)),
          Effect.map((o) => o.every((x) => x === o[0]))
        ),
        { timeout: "30 seconds", errMsg: () => `replication offsets differ: ${offsets.join(", ")}` }
      )
      for (const replica of replicas) {
        const last = yield* cli(redis, replica, ["GET", `key:${keys}`])
        yield* Test.checkEqual(last, String(keys), `key:${keys} on ${redis.who(replica)}`)
      }
      return {
        keys,
        writeMs: written - started,
        catchUpMs: caughtUp - written,
        offsets,
        pids: yield* Effect.forEach(redis.nodes, pidOf)
      }
    })),

  /** Crash the primary; promote replica 2 (REPLICAOF NO ONE), point replica 3 at it, and keep writing. */
  failover: Test.make({ cluster: 3, timeout: "2 minutes" }, () =>
    Effect.gen(function*() {
      const redis = yield* Redis.start({ numNodes: 3 })
      const [oldPrimary, promoted, follower] = [redis.node(1), redis.node(2), redis.node(3)]
      yield* waitLinked(redis, [promoted, follower], oldPrimary.account.externallyRoutableIp)
      yield* writeKeys(redis, oldPrimary, "before", 500)
      yield* waitForKeys(redis, [promoted, follower], 500)
      const refused = yield* Effect.flip(cli(redis, promoted, ["SET", "x", "1"]))
      yield* Test.check(refused.message.includes("READONLY"), `a replica accepted a write: ${refused.message}`)

      const crashedPid = yield* crash(oldPrimary)
      // Death is seen a moment later: a killed process lingers (a zombie) until it is reaped.
      yield* Wait.waitUntil(Effect.map(oldPrimary.account.alive(crashedPid), (alive) => !alive), {
        timeout: "5 seconds",
        errMsg: `${redis.who(oldPrimary)} survived SIGKILL`
      })
      const failoverStarted = Date.now()
      yield* cli(redis, promoted, ["REPLICAOF", "NO", "ONE"])
      yield* cli(redis, follower, ["REPLICAOF", promoted.account.externallyRoutableIp, redis.config.port])
      yield* waitLinked(redis, [follower], promoted.account.externallyRoutableIp)
      const relinkedMs = Date.now() - failoverStarted

      yield* writeKeys(redis, promoted, "after", 500)
      yield* waitForKeys(redis, [promoted, follower], 1000)
      const role = yield* info(redis, promoted, "replication")
      yield* Test.checkEqual(role.role, "master", `role of ${redis.who(promoted)}`)
      const stats = yield* info(redis, promoted, "stats")
      return {
        keysBefore: 500,
        keysAfter: 1000,
        crashedPid,
        newPrimary: redis.who(promoted),
        relinkedMs,
        // The follower kept its data: Redis 7 continues the old stream (PSYNC) instead of a full copy.
        partialResyncs: Number(stats.sync_partial_ok),
        fullResyncs: Number(stats.sync_full),
        pids: [crashedPid, yield* pidOf(promoted), yield* pidOf(follower)]
      }
    }))
})
