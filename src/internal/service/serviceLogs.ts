/**
 * A service's logs as the results keep them: where each node's log is copied (`<logsDir>/<service id>/<node>/`),
 * which logs a test keeps (all after a failure, else those collected by default or asked for), and failure messages
 * that point at the kept copy rather than at a node's scratch directory, which is gone once the run ends.
 */
import * as NodePath from "node:path"
import { Effect, Option } from "effect"
import type { ClusterNode } from "../../Cluster.js"
import type * as S from "../../Service.js"

/**
 * The file name a collected log gets: its own, unless another one collected has the same (logs/out.log,
 * data/out.log): then its name in `logs` goes first, so neither overwrites the other.
 */
export const collectedName = (logs: Readonly<Record<string, S.LogSpec>>, name: string, path: string) => {
  const base = NodePath.posix.basename(path)
  const shared = Object.values(logs).filter((other) => NodePath.posix.basename(other.path) === base).length > 1
  return shared ? `${name}.${base}` : base
}

/** A local path as a person at the terminal would type it: relative to the working directory when under it. */
const displayPath = (path: string) => {
  const relative = NodePath.relative(process.cwd(), path)
  return relative === "" || relative.startsWith("..") || NodePath.isAbsolute(relative) ? path : relative
}

/**
 * A failure naming one of the node's logs (a log wait that timed out) points at the copy collected under the
 * results rather than the node's scratch directory; that copy is made sure of.
 */
export const pointAtCollected = (
  registry: Option.Option<S.ServiceRegistry>,
  id: string,
  logs: Readonly<Record<string, S.LogSpec>>,
  node: ClusterNode,
  reason: string
) =>
  Option.match(registry, {
    onNone: () => reason,
    onSome: (r) => {
      let text = reason
      for (const [name, spec] of Object.entries(logs)) {
        const remote = node.account.resolve(spec.path)
        if (!text.includes(remote)) continue
        r.collect.set(`${id}/${name}`, true)
        const local = displayPath(NodePath.join(r.logsDir, id, node.name, collectedName(logs, name, spec.path)))
        text = text.split(`${node.account.hostname}:${remote}`).join(`${local} (${node.name}'s ${spec.path})`).split(remote).join(local)
      }
      return text
    }
  })

/** Copies the node logs this test should keep into `<logsDir>/<service id>/<node>/`; a missing log is noted. */
export const collectLogs = (
  registry: S.ServiceRegistry,
  record: S.ServiceRecord,
  specs: Readonly<Record<string, S.LogSpec>>,
  nodes: ReadonlyArray<ClusterNode>,
  failed: boolean
) => {
  const logs = Object.entries(specs)
  const override = (log: string) =>
    [`${record.id}/${log}`, record.id, `${record.name}/${log}`, record.name]
      .map((k) => registry.collect.get(k))
      .find((v) => v !== undefined)
  const wanted = logs.filter(([name, spec]) => failed || (override(name) ?? spec.collectDefault === true))
  const fileName = (name: string, path: string) => collectedName(Object.fromEntries(wanted), name, path)
  return Effect.forEach(
    nodes.flatMap((node) => wanted.map(([name, spec]) => ({ node, name, spec }))),
    ({ node, name, spec }) =>
      node.account.copyFrom(spec.path, NodePath.join(registry.logsDir, record.id, node.name, fileName(name, spec.path))).pipe(
        Effect.catchAll((e) =>
          Effect.sync(() => record.notes.push(`log ${name} (${spec.path}) not collected from ${node.name}: ${e.message}`))
        )
      ),
    { concurrency: 8, discard: true }
  ).pipe(Effect.withSpan("Service.collectLogs", { attributes: { service: record.id } }))
}
