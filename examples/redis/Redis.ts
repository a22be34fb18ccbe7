/**
 * Redis as a ducktape-effect service: one redis-server per node; node 1 is the primary and every other node
 * starts as its replica. Uses Debian's redis-server 7 (`apt-get install redis-server`).
 */
import { Effect } from "effect"
import { type ClusterNode, Service, Template, Test } from "ducktape-effect"

/** The service's configuration. */
export interface RedisConfig {
  readonly port: number
}

/** Redis: node 1 primary, nodes 2… its replicas; logs `redis/redis.log` on each node. */
export const Redis = Service.make<RedisConfig>({
  name: "redis",
  numNodes: 1,
  packages: ["redis-server"],
  config: { port: 6379 },
  logs: { server: { path: "redis/redis.log", collectDefault: true } },

  startNode: (node, redis) =>
    Effect.gen(function*() {
      const account = node.account
      yield* account.mkdirs("redis/data")
      const primary = redis.node(1)
      const conf = yield* Template.render("redis.conf", {
        who: redis.who(node),
        address: account.externallyRoutableIp,
        port: redis.config.port,
        dir: account.resolve("redis/data"),
        logfile: account.resolve("redis/redis.log"),
        replicaOf: redis.idx(node) === 1 ? [] : [{ host: primary.account.externallyRoutableIp, port: redis.config.port }]
      }, { from: import.meta.url })
      yield* account.createFile("redis/redis.conf", conf)

      // Watch the log from its current end (a restart appends), start the server, wait until it serves.
      // Its stdout goes to the same log, so a config error shows up in the timeout's message.
      const log = yield* account.monitorLog("redis/redis.log")
      yield* account.spawnDaemon(["redis-server", "redis/redis.conf"], { logFile: "redis/redis.log", pidFile: "redis/pid" })
      yield* log.waitUntil("Ready to accept connections", { timeout: "30 seconds", errMsg: "redis-server did not start" })
    }),

  stopNode: (node) => Effect.flatMap(pidOf(node), (pid) => node.account.killProcessGroup(pid)),

  cleanNode: (node) => node.account.remove("redis", { force: true })
})

/** The running server's pid (also its process group). */
export const pidOf = (node: ClusterNode) => Effect.map(node.account.readFile("redis/pid"), Number)

/** Kills a node's server at once (SIGKILL to its process group), as a crash would; returns its pid. */
export const crash = (node: ClusterNode) =>
  Effect.tap(pidOf(node), (pid) => node.account.ssh(["kill", "-s", "KILL", "--", `-${pid}`]))

/** A running Redis service, as the helpers below take it. */
export type RunningRedis = Service.RunningService<RedisConfig>

/**
 * Runs one redis-cli command on `server`'s node against `server`; returns its output. An error reply fails
 * (`-e`). With `stdin`, redis-cli runs one command per input line instead.
 */
export const cli = (
  redis: RunningRedis,
  server: ClusterNode,
  command: ReadonlyArray<string | number>,
  options: { readonly stdin?: string } = {}
) => {
  const target = ["-h", server.account.externallyRoutableIp, "-p", String(redis.config.port)]
  return server.account.sshOutput(["redis-cli", "-e", ...target, ...command.map(String)], { timeout: "30 seconds", ...options })
    .pipe(Effect.map((out) => out.trim()))
}

/** One section of `INFO`, as `field → value`. */
export const info = (redis: RunningRedis, server: ClusterNode, section: string) =>
  Effect.map(cli(redis, server, ["INFO", section]), (out) => {
    const fields: Record<string, string> = {}
    for (const [, key, value] of out.matchAll(/^(\w+):(.*)$/gm)) fields[key!] = value!.trim()
    return fields as Readonly<Record<string, string>>
  })

/** Writes `count` keys `<prefix>:1…<prefix>:count` (value = the number) in one redis-cli session. */
export const writeKeys = (redis: RunningRedis, server: ClusterNode, prefix: string, count: number) => {
  const commands = Array.from({ length: count }, (_, i) => `SET ${prefix}:${i + 1} ${i + 1}\n`).join("")
  return cli(redis, server, [], { stdin: commands }).pipe(
    Effect.map((out) => out.split("\n").filter((l) => l === "OK").length),
    Effect.flatMap((ok) => Test.check(ok === count, `wrote ${ok} of ${count} keys to ${redis.who(server)}`))
  )
}

/** Number of keys on a server. */
export const dbsize = (redis: RunningRedis, server: ClusterNode) => Effect.map(cli(redis, server, ["DBSIZE"]), Number)
