/** Network faults by iptables: partitions, isolation, packet loss. */
import { Effect, Option } from "effect"
import type { ClusterNode } from "../../../Cluster.js"
import { Cluster } from "../../../Cluster.js"
import type * as F from "../../../Fault.js"
import { fault, names } from "./commands.js"
import { commentFor, iptablesFault, withComment } from "./iptables.js"
import { networkFix, nextId, sessionLabel } from "./limitsAndIds.js"
import { peerAddress, requireMembers, requireNetwork, sameNode } from "./preconditions.js"

const dropBetween = (kind: string, groups: ReadonlyArray<ReadonlyArray<ClusterNode>>, target: string) =>
  Effect.gen(function*() {
    const nonEmpty = groups.filter((g) => g.length > 0)
    const all = nonEmpty.flat()
    if (nonEmpty.length < 2) {
      return yield* Effect.fail(
        fault(kind, names(all) || "no nodes", "a partition needs at least two non-empty groups", "pass e.g. [[n1], [n2, n3]]")
      )
    }
    const twice = all.find((n, i) => all.findIndex((m) => sameNode(m, n)) !== i)
    if (twice !== undefined) {
      return yield* Effect.fail(
        fault(kind, twice.name, "the node is in more than one group", "put each node in one group only")
      )
    }
    yield* requireMembers(kind, all)
    const facts = yield* requireNetwork(kind, all, ["iptables-save", "iptables-restore"])
    const label = yield* sessionLabel
    const id = nextId()
    const comment = commentFor(label, id)
    const perNode = yield* Effect.forEach(all, (node, i) =>
      Effect.gen(function*() {
        const own = facts[i]!
        const peers = nonEmpty.filter((g) => !g.some((m) => sameNode(m, node))).flat()
        const addresses = yield* Effect.forEach(peers, (p) => peerAddress(kind, node, p))
        const driverPeer = addresses.findIndex((a) => a === own.driver)
        if (driverPeer >= 0) {
          return yield* Effect.fail(
            fault(
              kind,
              node.name,
              `${peers[driverPeer]!.name} (${addresses[driverPeer]}) is the machine running the tests; cutting it off ` +
                "would cut the ssh connection the fault is healed through",
              "run the tests from a machine outside the cluster, or leave that node out of the fault"
            )
          )
        }
        const rules = [...new Set(addresses)].flatMap((a) => [
          `-I INPUT -s ${a}/32 ${withComment(comment)} -j DROP`,
          `-I OUTPUT -d ${a}/32 ${withComment(comment)} -j DROP`
        ])
        return { node, facts: own, rules }
      }), { concurrency: "unbounded" })
    return yield* iptablesFault(kind, target, "iptables DROP both ways between the groups", id, comment, perNode)
  })

/** @internal */
export const partition = (groups: ReadonlyArray<ReadonlyArray<ClusterNode>>) =>
  dropBetween("partition", groups, groups.filter((g) => g.length > 0).map(names).join(" | "))

/** @internal */
export const isolate = (node: ClusterNode, from?: ReadonlyArray<ClusterNode>) =>
  Effect.gen(function*() {
    const peers = from !== undefined
      ? from.filter((n) => !sameNode(n, node))
      : yield* Effect.flatMap(Effect.serviceOption(Cluster), (cluster) =>
        Option.isSome(cluster)
          ? Effect.succeed(cluster.value.all.filter((n) => !sameNode(n, node)))
          : Effect.fail(
            fault("isolate", node.name, "there is no cluster to isolate it from", "pass the nodes to cut it off from as `from`")
          ))
    if (peers.length === 0) {
      return yield* Effect.fail(fault("isolate", node.name, "there are no other nodes to isolate it from", "pass `from`"))
    }
    return yield* dropBetween("isolate", [[node], peers], `${node.name} | ${names(peers)}`)
  })

/** iptables' `--probability` takes a plain decimal. */
const formatProbability = (p: number) => p.toFixed(8).replace(/0+$/, "").replace(/\.$/, "")

/** @internal */
export const packetLoss = (node: ClusterNode, probability: number, options: F.PacketLossOptions = {}) =>
  Effect.gen(function*() {
    const kind = "packet-loss"
    if (!Number.isFinite(probability) || probability <= 0 || probability > 1) {
      return yield* Effect.fail(
        fault(kind, node.name, `the probability must be in (0, 1], got ${probability}`, "pass e.g. 0.1 for 10% loss")
      )
    }
    const peers = (options.peers ?? []).filter((n) => !sameNode(n, node))
    yield* requireMembers(kind, [node, ...peers])
    const [facts] = yield* requireNetwork(kind, [node], ["iptables-save", "iptables-restore"])
    const own = facts!
    const label = yield* sessionLabel
    const id = nextId()
    const comment = commentFor(label, id)
    const chance = `-m statistic --mode random --probability ${formatProbability(probability)}`
    let rules: Array<string>
    if (options.peers === undefined) {
      // Loopback and the driver are spared: the node's own services keep talking to themselves, and commands
      // (healing among them) keep working.
      const notDriver = (flag: "-s" | "-d") => (own.driver === undefined ? "" : ` ! ${flag} ${own.driver}/32`)
      rules = [
        `-I INPUT ! -i lo${notDriver("-s")} ${chance} ${withComment(comment)} -j DROP`,
        `-I OUTPUT ! -o lo${notDriver("-d")} ${chance} ${withComment(comment)} -j DROP`
      ]
    } else {
      const addresses = yield* Effect.forEach(peers, (p) => peerAddress(kind, node, p))
      const own4 = new Set(own.addresses.map((a) => a.address))
      const shared = addresses.findIndex((a) => own4.has(a))
      if (shared >= 0) {
        return yield* Effect.fail(
          fault(kind, `${node.name} and ${peers[shared]!.name}`, "the two nodes share one network stack", networkFix)
        )
      }
      rules = [...new Set(addresses)].filter((a) => a !== own.driver).flatMap((a) => [
        `-I INPUT -s ${a}/32 ${chance} ${withComment(comment)} -j DROP`,
        `-I OUTPUT -d ${a}/32 ${chance} ${withComment(comment)} -j DROP`
      ])
    }
    const target = options.peers === undefined ? node.name : `${node.name} ↔ ${names(peers)}`
    const detail = `iptables random DROP, p=${formatProbability(probability)} each way`
    return yield* iptablesFault(kind, target, detail, id, comment, [{ node, facts: own, rules }])
  })
