/**
 * ZooKeeper as a ducktape-effect service: one server per node, an ensemble across the service's nodes.
 * Uses Debian's zookeeper package (`apt-get install --no-install-recommends zookeeper`).
 */
import { Effect } from "effect"
import { type ClusterNode, Service, Template, Wait } from "ducktape-effect"

/** Debian's ZooKeeper jar lists its dependencies in its manifest; log4j makes the server log at all. */
const classpath = ["zookeeper.jar", "slf4j-log4j12.jar", "log4j-1.2.jar"].map((jar) => `/usr/share/java/${jar}`).join(":")
const clientClasspath = ["zookeeper.jar", "slf4j-nop.jar"].map((jar) => `/usr/share/java/${jar}`).join(":")

export const ZooKeeper = Service.make({
  name: "zookeeper",
  numNodes: 3,
  packages: ["zookeeper"],
  config: { clientPort: 2181, tickTime: 2000 },
  logs: { server: { path: "zookeeper/zookeeper.log", collectDefault: true } },

  startNode: (node, zk) =>
    Effect.gen(function*() {
      const account = node.account
      yield* account.mkdirs("zookeeper/data")
      const properties = yield* Template.render("zookeeper.properties", {
        ...zk.config,
        who: zk.who(node),
        dataDir: account.resolve("zookeeper/data"),
        address: account.externallyRoutableIp,
        servers: zk.nodes.length > 1
          ? zk.nodes.map((n) => ({ id: zk.idx(n), address: n.account.externallyRoutableIp }))
          : []
      }, { from: import.meta.url })
      yield* account.createFile("zookeeper/zookeeper.properties", properties)
      yield* account.createFile("zookeeper/log4j.properties", yield* Template.render("log4j.properties", {}, { from: import.meta.url }))
      yield* account.createFile("zookeeper/data/myid", `${zk.idx(node)}\n`)

      // Watch the log from its current end, start the server, and wait for the line that says it serves.
      const log = yield* account.monitorLog("zookeeper/zookeeper.log")
      yield* account.spawnDaemon(
        `java -cp ${classpath} -Dlog4j.configuration=file:zookeeper/log4j.properties ` +
          `org.apache.zookeeper.server.quorum.QuorumPeerMain zookeeper/zookeeper.properties`,
        { logFile: "zookeeper/zookeeper.log", pidFile: "zookeeper/pid", cwd: "." }
      )
      yield* log.waitUntil("binding to port", { timeout: "100 seconds", backoff: "7 seconds", errMsg: "ZooKeeper did not start" })
    }),

  // "binding to port" means a server listens; an ensemble serves only once it has a leader.
  started: (zk) =>
    Wait.waitUntil(
      Effect.map(Effect.forEach(zk.nodes, (n) => mode(zk.node(1), n, zk.config.clientPort)), (modes) =>
        modes.every((m) => ["leader", "follower", "standalone"].includes(m))),
      { timeout: "60 seconds", backoff: "250 millis", retryOnError: true, errMsg: "the ensemble did not elect a leader" }
    ),

  stopNode: (node) =>
    Effect.gen(function*() {
      const pid = Number(yield* node.account.readFile("zookeeper/pid"))
      yield* node.account.killProcessGroup(pid)
    }),

  cleanNode: (node) => node.account.remove("zookeeper", { force: true })
})

/** `host:port` of every server, for clients. */
export const connectString = (zk: Service.RunningService<{ readonly clientPort: number }>) =>
  zk.nodes.map((n) => `${n.account.externallyRoutableIp}:${zk.config.clientPort}`).join(",")

/** Runs one zkCli command from `from` against the given servers; returns its output. */
export const zkCli = (from: ClusterNode, servers: string, ...command: ReadonlyArray<string>) =>
  from.account.sshOutput(["java", "-cp", clientClasspath, "org.apache.zookeeper.ZooKeeperMain", "-server", servers, ...command], {
    timeout: "60 seconds",
    mergeStderr: true
  })

/** The server's role ("leader", "follower", "standalone"), from the `srvr` four-letter command. */
export const mode = (from: ClusterNode, server: ClusterNode, port = 2181) =>
  from.account.sshOutput(
    ["bash", "-c", `exec 3<>/dev/tcp/${server.account.externallyRoutableIp}/${port} && printf srvr >&3 && cat <&3`],
    { timeout: "10 seconds" }
  ).pipe(Effect.map((out) => /Mode: (\w+)/.exec(out)?.[1] ?? "unknown"))
