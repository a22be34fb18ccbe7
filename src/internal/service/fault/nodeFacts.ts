/** What a node can do for faults (its tools, root, its own network namespace), probed once per node. */
import * as NodeFs from "node:fs/promises"
import { Effect } from "effect"
import type { ClusterNode } from "../../../Cluster.js"
import { FaultError } from "../errors.js"
import type { RemoteAccount } from "../../../RemoteAccount.js"
import { run, unreachable } from "./commands.js"

export interface Facts {
  readonly uid: number
  /** The ssh client address as the node sees it: the driver, whose traffic is never dropped. */
  readonly driver: string | undefined
  readonly tools: ReadonlyMap<string, string>
  readonly addresses: ReadonlyArray<{ readonly dev: string; readonly address: string }>
  readonly defaultDev: string | undefined
  /** boot id + network namespace: equal on two nodes (or a node and the driver) means one network stack. */
  readonly stack: string | undefined
}

export const tools = ["iptables", "iptables-save", "iptables-restore", "tc"] as const

const probeScript = [
  `PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"`,
  `echo "uid $(id -u)"`,
  `echo "driver \${SSH_CONNECTION%% *}"`,
  `for t in ${tools.join(" ")}; do echo "tool $t $(command -v "$t" 2>/dev/null)"; done`,
  `echo "stack $(cat /proc/sys/kernel/random/boot_id 2>/dev/null)/$(readlink /proc/self/ns/net 2>/dev/null)"`,
  `ip -o -4 addr show 2>/dev/null | while read -r _ dev _ addr _; do echo "addr $dev \${addr%/*}"; done`,
  `ip -o -4 route show default 2>/dev/null | sed -n 's/.* dev \\([^ ]*\\).*/defdev \\1/p' | head -n 1`,
  "true"
].join("\n")

const parseFacts = (out: string): Facts => {
  let uid = -1
  let driver: string | undefined
  let stack: string | undefined
  let defaultDev: string | undefined
  const found = new Map<string, string>()
  const addresses: Array<{ dev: string; address: string }> = []
  for (const line of out.split("\n")) {
    const [key, ...rest] = line.trim().split(/\s+/)
    if (key === "uid" && rest[0] !== undefined) uid = Number(rest[0])
    else if (key === "driver" && rest[0] !== undefined && rest[0] !== "") driver = rest[0]
    else if (key === "tool" && rest[0] !== undefined && rest[1] !== undefined) found.set(rest[0], rest[1])
    else if (key === "stack" && rest[0] !== undefined && /^[^/]+\/net:\[\d+\]$/.test(rest[0])) stack = rest[0]
    else if (key === "addr" && rest[0] !== undefined && rest[1] !== undefined) addresses.push({ dev: rest[0], address: rest[1] })
    else if (key === "defdev" && rest[0] !== undefined) defaultDev = rest[0]
  }
  return { uid, driver, tools: found, addresses, defaultDev, stack }
}

const factsCache = new WeakMap<RemoteAccount, Facts>()

export const probe = (kind: string, node: ClusterNode): Effect.Effect<Facts, FaultError> => {
  const cached = factsCache.get(node.account)
  if (cached !== undefined) return Effect.succeed(cached)
  return run(node, probeScript).pipe(
    Effect.map((r) => parseFacts(r.stdout)),
    Effect.tap((facts) => Effect.sync(() => factsCache.set(node.account, facts))),
    Effect.mapError((e) => unreachable(kind, node, e))
  )
}

/** The driver's own network stack, to recognise a node that is this very machine's (a localhost node). */
let driverStackRead: Promise<string | undefined> | undefined
export const driverStack: Effect.Effect<string | undefined> = Effect.promise(() =>
  driverStackRead ??= Promise.all([
    NodeFs.readFile("/proc/sys/kernel/random/boot_id", "utf8").then((s) => s.trim(), () => undefined),
    NodeFs.readlink("/proc/self/ns/net").catch(() => undefined)
  ]).then(([boot, net]) => (boot === undefined || net === undefined ? undefined : `${boot}/${net}`))
)
