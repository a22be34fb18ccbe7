/**
 * etcd as a ducktape-effect service: one member per node, all started together (a member waits for a quorum of its
 * peers before it serves, so a one-by-one start would hang on the first), and a small client over etcd's JSON
 * gateway (`/v3/kv/*`) for workloads. Uses Debian's etcd-server 3.4 (`apt-get install etcd-server`).
 */
import { Data, Duration, Effect } from "effect"
import { type ClusterNode, Service } from "ducktape-effect"

/** The service's configuration. */
export interface EtcdConfig {
  readonly clientPort: number
  readonly peerPort: number
}

const url = (node: ClusterNode, port: number) => `http://${node.account.externallyRoutableIp}:${port}`

/** etcd: one member per node, named after the node; logs `etcd/etcd.log` on each. */
export const Etcd = Service.make<EtcdConfig>({
  name: "etcd",
  numNodes: 3,
  packages: ["etcd-server"],
  config: { clientPort: 2379, peerPort: 2380 },
  logs: { server: { path: "etcd/etcd.log", collectDefault: true } },
  concurrentStart: true,

  startNode: (node, etcd) =>
    Effect.gen(function*() {
      const account = node.account
      yield* account.mkdirs("etcd/data")
      const name = (n: ClusterNode) => `member${etcd.idx(n)}`
      const log = yield* account.monitorLog("etcd/etcd.log")
      yield* account.spawnDaemon([
        "etcd",
        "--name", name(node),
        "--data-dir", account.resolve("etcd/data"),
        "--listen-client-urls", url(node, etcd.config.clientPort),
        "--advertise-client-urls", url(node, etcd.config.clientPort),
        "--listen-peer-urls", url(node, etcd.config.peerPort),
        "--initial-advertise-peer-urls", url(node, etcd.config.peerPort),
        "--initial-cluster", etcd.nodes.map((n) => `${name(n)}=${url(n, etcd.config.peerPort)}`).join(","),
        "--initial-cluster-token", etcd.id,
        "--initial-cluster-state", "new"
      ], { logFile: "etcd/etcd.log", pidFile: "etcd/pid" })
      yield* log.waitUntil("ready to serve client requests", { timeout: "60 seconds", errMsg: "etcd did not start" })
    }),

  stopNode: (node) => Effect.flatMap(Effect.map(node.account.readFile("etcd/pid"), Number), (pid) => node.account.killProcessGroup(pid)),

  cleanNode: (node) => node.account.remove("etcd", { force: true })
})

/** A running etcd service. */
export type RunningEtcd = Service.RunningService<EtcdConfig>

/** etcd answered, and said no: the operation definitely did not take effect. */
export class EtcdRejected extends Data.TaggedError("EtcdRejected")<{ readonly detail: string }> {}

/** The request did not complete (timeout, connection refused or reset): it may or may not have taken effect. */
export class EtcdUnknown extends Data.TaggedError("EtcdUnknown")<{ readonly detail: string }> {}

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64")
const fromBase64 = (text: string) => Buffer.from(text, "base64").toString("utf8")

/** How a client reads: through the leader's quorum (linearizable, etcd's default) or from the member it asks. */
export type ReadMode = "linearizable" | "serializable"

/** A client of one member, over etcd's JSON gateway, with a per-request timeout. */
export const client = (etcd: RunningEtcd, member: ClusterNode, timeout: Duration.DurationInput = "1 second") => {
  const call = (path: string, body: unknown) =>
    Effect.tryPromise({
      try: (signal) =>
        fetch(`${url(member, etcd.config.clientPort)}/v3/kv/${path}`, {
          method: "POST",
          body: JSON.stringify(body),
          signal: AbortSignal.any([signal, AbortSignal.timeout(Duration.toMillis(timeout))])
        }).then(async (response) => ({ status: response.status, json: (await response.json()) as Record<string, any> })),
      catch: (e) => new EtcdUnknown({ detail: String(e) })
    }).pipe(
      Effect.flatMap(({ json, status }) =>
        status === 200 ? Effect.succeed(json) : Effect.fail(new EtcdUnknown({ detail: `HTTP ${status}: ${JSON.stringify(json)}` }))
      )
    )
  return {
    /** The key's value, or null when it has none. */
    read: (key: string, mode: ReadMode) =>
      Effect.map(call("range", { key: base64(key), serializable: mode === "serializable" }), (json) => {
        const kv = (json["kvs"] as Array<{ value?: string }> | undefined)?.[0]
        return kv === undefined ? null : Number(fromBase64(kv.value ?? ""))
      }),
    write: (key: string, value: number) => Effect.asVoid(call("put", { key: base64(key), value: base64(String(value)) })),
    /** Sets the key to `to` if it holds `from`; fails with EtcdRejected if it does not. */
    cas: (key: string, from: number, to: number) =>
      Effect.flatMap(
        call("txn", {
          compare: [{ key: base64(key), target: "VALUE", result: "EQUAL", value: base64(String(from)) }],
          success: [{ requestPut: { key: base64(key), value: base64(String(to)) } }]
        }),
        (json) => (json["succeeded"] === true ? Effect.void : Effect.fail(new EtcdRejected({ detail: `the value was not ${from}` })))
      )
  }
}
