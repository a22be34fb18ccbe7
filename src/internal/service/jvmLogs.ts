import { Effect } from "effect"
import type { ClusterNode } from "../../Cluster.js"
import type { LogSpec } from "../../Service.js"
import { ambientEnv } from "../remote/remoteAccount.js"

/**
 * What --enable-jvm-logs gives every JVM a service starts (JDK 9 and later read JDK_JAVA_OPTIONS): GC logging to
 * `<dir>/gc/gc-<pid>.log` (5 files of 10 MiB at most each) and a heap dump in `<dir>/heap` when it runs out of
 * memory.
 */
const jvmOptions = (dir: string) =>
  // %p: one file per JVM, so that a second JVM (a client the service runs, say) does not rotate the server's away.
  `-Xlog:gc*:file=${dir}/gc/gc-%p.log:time,uptime,level,tags:filecount=5,filesize=10M ` +
  `-XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=${dir}/heap`

/**
 * --enable-jvm-logs for one service (by its id): a directory of its own on each node, the logs to collect from it
 * (GC by default, the heap dump after a failure), and how a node's start gets the options.
 * @internal
 */
export const forService = (id: string) => {
  const dir = `jvm_logs/${id}`
  return {
    logs: {
      jvm_gc_log: { path: `${dir}/gc`, collectDefault: true },
      jvm_heap_dump: { path: `${dir}/heap` }
    } satisfies Readonly<Record<string, LogSpec>>,
    /** A node's start with the JVM options: they reach its commands and the fibers it forks. */
    starting: <A, E, R>(node: ClusterNode, start: Effect.Effect<A, E, R>) =>
      Effect.zipRight(
        Effect.all([node.account.mkdirs(`${dir}/gc`), node.account.mkdirs(`${dir}/heap`)]),
        Effect.locally(start, ambientEnv, { JDK_JAVA_OPTIONS: jvmOptions(node.account.resolve(dir)) })
      ),
    /** Removes the directory: before the first start (an earlier run's logs are not this one's), after teardown. */
    clear: (node: ClusterNode) => Effect.ignore(node.account.remove(dir, { force: true }))
  }
}
