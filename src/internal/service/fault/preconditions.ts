/**
 * What a fault checks before it touches anything: members of the cluster, nodes with a network of their own, peers'
 * addresses.
 */
import { Effect, Option } from "effect"
import type { ClusterNode } from "../../../Cluster.js"
import { Cluster } from "../../../Cluster.js"
import { FaultError, installHint } from "../errors.js"
import { isLoopback } from "../../cluster/sshNodes.js"
import { fault, isIpv4, names, run, unreachable } from "./commands.js"
import { networkFix } from "./limitsAndIds.js"
import { driverStack, type Facts, probe, tools } from "./nodeFacts.js"

export const sameNode = (a: ClusterNode, b: ClusterNode) =>
  a.account === b.account ||
  (a.name === b.name && a.account.sshHostname === b.account.sshHostname && a.account.port === b.account.port)

/** Every node must belong to the current cluster (the test's own nodes), when there is one. */
export const requireMembers = (kind: string, nodes: ReadonlyArray<ClusterNode>) =>
  Effect.flatMap(Effect.serviceOption(Cluster), (cluster) => {
    if (Option.isNone(cluster)) return Effect.void
    const stranger = nodes.find((n) => !cluster.value.all.some((m) => sameNode(m, n)))
    return stranger === undefined ? Effect.void : Effect.fail(
      fault(
        kind,
        stranger.name,
        `it is not one of this test's nodes (${names(cluster.value.all) || "none"})`,
        "use nodes the test was given: a service's `nodes`, or the `Cluster`'s `all`"
      )
    )
  })

const localhostError = (kind: string, node: ClusterNode, why: string) =>
  fault(kind, node.name, `${why}; localhost nodes share one network stack`, networkFix)

/** Checks one node for network faults: its own network stack, root, and the tools. */
const requireNetworkNode = (kind: string, node: ClusterNode, needs: ReadonlyArray<(typeof tools)[number]>) =>
  Effect.gen(function*() {
    const address = node.account.externallyRoutableIp
    if (isLoopback(address)) {
      return yield* Effect.fail(localhostError(kind, node, `its address ${address} is a loopback address`))
    }
    const facts = yield* probe(kind, node)
    const driver = yield* driverStack
    if (facts.stack !== undefined && facts.stack === driver) {
      return yield* Effect.fail(localhostError(kind, node, "it runs in the network stack of the machine running the tests"))
    }
    if (facts.uid !== 0) {
      return yield* Effect.fail(
        fault(
          kind,
          node.name,
          `it runs commands as ${node.account.user} (uid ${facts.uid < 0 ? "unknown" : facts.uid}); iptables and tc need root`,
          "connect to the node as root (\"user\": \"root\" in the cluster file's ssh_config)"
        )
      )
    }
    const missing = needs.filter((t) => !facts.tools.has(t))
    if (missing.length > 0) {
      return yield* Effect.fail(
        fault(kind, node.name, `${missing.map((t) => `\`${t}\``).join(", ")} not found on the node`, `on the node: ${installHint}`)
      )
    }
    return facts
  })

export const requireNetwork = (
  kind: string,
  nodes: ReadonlyArray<ClusterNode>,
  needs: ReadonlyArray<(typeof tools)[number]>
): Effect.Effect<ReadonlyArray<Facts>, FaultError> =>
  Effect.gen(function*() {
    const facts = yield* Effect.forEach(nodes, (n) => requireNetworkNode(kind, n, needs), { concurrency: "unbounded" })
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) {
        const a = facts[i]!.stack
        if (a !== undefined && a === facts[j]!.stack) {
          return yield* Effect.fail(
            fault(kind, `${nodes[i]!.name} and ${nodes[j]!.name}`, "the two nodes share one network stack", networkFix)
          )
        }
      }
    }
    return facts
  })

/** Checks that network faults can be applied on the nodes (cached per node). */
export const checkNetwork = (nodes: ReadonlyArray<ClusterNode>): Effect.Effect<void, FaultError> =>
  Effect.asVoid(requireNetwork("network fault", nodes, tools))

/** The peer's address as `on` sees it: an IPv4 literal as is, a name resolved on the node itself. */
export const peerAddress = (kind: string, on: ClusterNode, peer: ClusterNode): Effect.Effect<string, FaultError> => {
  const address = peer.account.externallyRoutableIp
  if (isIpv4(address)) return Effect.succeed(address)
  return run(on, ["getent", "ahostsv4", address]).pipe(
    Effect.mapError((e) => unreachable(kind, on, e)),
    Effect.flatMap((r) => {
      const resolved = r.stdout.trim().split(/\s+/)[0]
      return resolved !== undefined && isIpv4(resolved) ? Effect.succeed(resolved) : Effect.fail(
        fault(
          kind,
          on.name,
          `the address of ${peer.name}, ${JSON.stringify(address)}, does not resolve to an IPv4 address there`,
          "set externally_routable_ip of each node to its IPv4 address in the cluster file"
        )
      )
    })
  )
}
