/** Bandwidth limits by tc on a node's interfaces. */
import { Effect } from "effect"
import type { ClusterNode } from "../../../Cluster.js"
import * as Shell from "../../../Shell.js"
import * as labels from "../../shared/sessionLabels.js"
import { commandFailed, fault, HealFailed, run, unreachable } from "./commands.js"
import { addRules, commentFor, removeRules, tool, withComment } from "./iptables.js"
import { nextId, qdiscHandle, sanitize, sessionLabel } from "./limitsAndIds.js"
import { requireMembers, requireNetwork } from "./preconditions.js"
import { scoped } from "./scopedFault.js"

const ratePattern = /^\d+(\.\d+)?(bit|kbit|mbit|gbit|tbit|bps|kbps|mbps|gbps|tbps)$/i

/** Exit codes of the apply script that mean "refused", not "failed". */
const busyExit = 3
const foreignExit = 4

/** @internal */
export const bandwidth = (node: ClusterNode, rate: string) =>
  Effect.gen(function*() {
    const kind = "bandwidth"
    if (!ratePattern.test(rate)) {
      return yield* Effect.fail(
        fault(kind, node.name, `${JSON.stringify(rate)} is not a tc rate`, "write it as tc does: \"1mbit\", \"500kbit\", \"10mbps\"")
      )
    }
    yield* requireMembers(kind, [node])
    const [facts] = yield* requireNetwork(kind, [node], ["tc", "iptables-save", "iptables-restore"])
    const own = facts!
    const dev = own.addresses.find((a) => a.address === node.account.externallyRoutableIp)?.dev ?? own.defaultDev
    if (dev === undefined) {
      return yield* Effect.fail(
        fault(
          kind,
          node.name,
          `no interface holds its address ${node.account.externallyRoutableIp} and there is no default route`,
          "set externally_routable_ip to an address of the node's interface"
        )
      )
    }
    const tc = Shell.quote(tool(own, "tc"))
    const d = Shell.quote(dev)
    const h = qdiscHandle
    const exempt = own.driver === undefined ? [] : [
      `${tc} class add dev ${d} parent ${h} classid ${h}2 htb rate 10gbit quantum 1514`,
      `${tc} filter add dev ${d} parent ${h} protocol ip prio 1 u32 match ip dst ${own.driver}/32 flowid ${h}2`
    ]
    const apply = [
      `cur=$(${tc} qdisc show dev ${d} root)`,
      // Only a default root qdisc (handle 0:) is replaced: a configured one belongs to someone else.
      `case "$cur" in *" ${h} "*) echo "$cur" >&2; exit ${busyExit};; "qdisc "*" 0: "*|"") ;; *) echo "$cur" >&2; exit ${foreignExit};; esac`,
      [
        `${tc} qdisc replace dev ${d} root handle ${h} htb default 1`,
        `${tc} class add dev ${d} parent ${h} classid ${h}1 htb rate ${rate} quantum 1514`,
        ...exempt
      ].join(" && ")
    ].join("\n")
    // A qdisc carries no comment: a marker rule (no target, so it changes nothing) records the session that owns
    // the limit, added before the qdisc and removed after it, so that `ducktape clean` can remove the limit of a
    // driver that crashed. An interface name that a comment cannot hold gets no marker.
    const id = nextId()
    const label = yield* sessionLabel
    const marker = sanitize(dev) === dev ? `${commentFor(label, id)}${labels.qdiscMarker(dev)}` : undefined
    // Whether the qdisc may be ours: set just before the script runs, so an interrupted apply is still undone, and
    // cleared when the script refused (then the qdisc there is another fault's or someone else's).
    let mine = false
    const refused = (code: number, stderr: string) =>
      code === busyExit
        ? fault(
          kind,
          node.name,
          `${dev} already has a bandwidth limit from another fault`,
          "heal that fault first (close its scope); a limit left by a crashed run is removed by `ducktape clean`"
        )
        : fault(
          kind,
          node.name,
          `${dev} has a qdisc configured by someone else (${stderr.trim()})`,
          `remove it (\`tc qdisc del dev ${dev} root\`) if it is not needed`
        )
    const addMarker = marker === undefined
      ? Effect.void
      : addRules(kind, node, own, [`-A OUTPUT -o ${dev} ${withComment(marker)}`])
    return yield* scoped({
      kind,
      id,
      target: node.name,
      detail: `egress of ${dev} limited to ${rate} (tc htb)`,
      apply: Effect.zipRight(addMarker, Effect.suspend(() => {
        mine = true
        return run(node, apply)
      })).pipe(
        Effect.mapError((e) => (e._tag === "FaultError" ? e : unreachable(kind, node, e))),
        Effect.flatMap((r) => {
          if (r.exitCode === 0) return Effect.succeed({})
          if (r.exitCode === busyExit || r.exitCode === foreignExit) {
            mine = false
            return Effect.fail(refused(r.exitCode, r.stderr))
          }
          return Effect.fail(commandFailed(kind, node, "tc", r.stderr))
        })
      ),
      heal: Effect.zipRight(
        Effect.suspend(() =>
          mine
            ? Effect.flatMap(
              run(node, `if ${tc} qdisc show dev ${d} root | grep -q ' ${h} '; then ${tc} qdisc del dev ${d} root; fi`),
              (r) => (r.exitCode === 0 ? Effect.void : Effect.fail(new HealFailed({ node: node.name, reason: `tc: ${r.stderr.trim()}` })))
            )
            : Effect.void
        ),
        marker === undefined ? Effect.void : removeRules(node, own, marker)
      )
    })
  })

// ---------------------------------------------------------------------------------------------------------
