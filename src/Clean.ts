/**
 * Leftovers of crashed sessions: find and remove them.
 *
 * Everything the framework starts on a node carries the session's label — processes in their environment
 * (`DUCKTAPE_SESSION=<session>/<driver host>/<driver pid>`), firewall rules in their iptables comment
 * (`ducktape:<label>:…`), bandwidth limits (tc qdiscs, which carry no comment) in a marker rule naming their
 * interface, the localhost cluster's scratch directories in their name. A session whose driver
 * process is gone (e.g. killed with SIGKILL, so no scope could run) is dead, and what it left is removed: by
 * `ducktape clean`, and at the start of every run.
 *
 * @since 0.1.0
 */
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Effect } from "effect"
import type { ClusterNode } from "./Cluster.js"
import { sessionLabelVariable } from "./RemoteAccount.js"
import { isProcessId } from "./internal/remote/pid.js"
import * as Shell from "./Shell.js"
import { isLive, qdiscHandle, qdiscMarker } from "./internal/shared/sessionLabels.js"

/**
 * Something a dead session left behind (and that `clean` removed, unless it was a dry run).
 *
 * @since 0.1.0
 * @category models
 */
export interface Leftover {
  readonly node: string
  readonly kind: "process" | "iptables-rule" | "qdisc" | "directory"
  readonly what: string
  readonly label: string
}

/**
 * Lists labelled processes and firewall rules on a node, one per line: `P <pid> <label> <cmd>` / `R <rule>`.
 * Only processes in the scanning shell's own network namespace count: lab nodes share one process table with the
 * machine (and with other labs), so without this a node would claim — and kill — the other nodes' processes.
 */
const scanScript = `
me=$(readlink /proc/$$/ns/net 2>/dev/null)
for f in $(grep -l -a -s '${sessionLabelVariable}=' /proc/[0-9]*/environ); do
  l=$(tr '\\0' '\\n' < "$f" 2>/dev/null | grep -m1 '^${sessionLabelVariable}=') || continue
  p=\${f#/proc/}; p=\${p%/environ}
  [ "$p" = "$$" ] && continue
  [ "$(readlink /proc/$p/ns/net 2>/dev/null)" = "$me" ] || continue
  echo "P $p \${l#${sessionLabelVariable}=} $(tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null | cut -c1-160)"
done
if command -v iptables-save >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  iptables-save 2>/dev/null | grep -E -- '--comment "?ducktape:' | sed 's/^/R /'
fi
true`

const labelOfRule = (rule: string) => /--comment "?ducktape:([^":\s]*)/.exec(rule)?.[1] ?? ""

/** The interface a marker rule records a bandwidth limit on, if the rule is one. */
const qdiscOfRule = (rule: string) => /--comment "?ducktape:[^":\s]*:[^":\s]*:qdisc:([^"\s]+)"?(\s|$)/.exec(rule)?.[1]

/** Removes our qdisc from an interface if it is there (prints `present` if it was); only reports it on a dry run. */
const removeQdisc = (dev: string, dryRun: boolean) => {
  const d = Shell.quote(dev)
  return `PATH="$PATH:/usr/sbin:/sbin"; if tc qdisc show dev ${d} root 2>/dev/null | grep -q ' ${qdiscHandle} '; then ` +
    `echo present; ${dryRun ? "" : `tc qdisc del dev ${d} root; `}fi; true`
}

/**
 * This machine's scratch directories name the driver's pid: the localhost cluster's nodes (`ducktape-localhost-<pid>-…`),
 * a docker cluster's key (`ducktape-docker-…`), a node image being built (`ducktape-image-…`).
 */
const localScratch = /^ducktape-(?:localhost|docker|image)-(\d+)-/

/**
 * Finds (and unless `dryRun` removes) the scratch directories of dead drivers in this machine's temp dir.
 *
 * @since 0.1.0
 * @category utils
 */
export const cleanLocalScratch = (options: { readonly dryRun?: boolean } = {}): Effect.Effect<ReadonlyArray<Leftover>> =>
  Effect.gen(function*() {
    const found: Array<Leftover> = []
    const tmp = NodeOs.tmpdir()
    const entries = yield* Effect.promise(() => NodeFs.readdir(tmp).catch(() => [] as Array<string>))
    for (const name of entries) {
      const m = localScratch.exec(name)
      if (m === null || isLive(`x/${NodeOs.hostname()}/${m[1]}`)) continue
      found.push({ node: "localhost", kind: "directory", what: NodePath.join(tmp, name), label: `pid ${m[1]}` })
      if (options.dryRun !== true) yield* Effect.promise(() => NodeFs.rm(NodePath.join(tmp, name), { recursive: true, force: true }))
    }
    return found
  })

/**
 * Finds what dead sessions left on the nodes (and in this machine's temp dir), removing it unless `dryRun`.
 *
 * @since 0.1.0
 * @category utils
 */
export const clean = (
  nodes: ReadonlyArray<ClusterNode>,
  options: { readonly dryRun?: boolean } = {}
): Effect.Effect<ReadonlyArray<Leftover>> =>
  Effect.gen(function*() {
    const found: Array<Leftover> = []
    const seenPids = new Set<number>()
    // Nodes on one machine and network stack (localhost nodes) need one scan, not one each.
    const distinct = [...new Map(nodes.map((n) => [`${n.account.sshHostname}:${n.account.port}:${n.account.externallyRoutableIp.startsWith("127.") ? "lo" : n.account.externallyRoutableIp}`, n])).values()]
    yield* Effect.forEach(distinct, (node) =>
      Effect.gen(function*() {
        const out = yield* node.account.exec(["sh", "-c", scanScript], { timeout: "30 seconds" }).pipe(
          Effect.map((r) => r.stdout),
          Effect.orElseSucceed(() => "")
        )
        const deadPids: Array<number> = []
        const deadRules: Array<string> = []
        const rules = out.split("\n").filter((l) => l.startsWith("R ")).map((l) => l.slice(2))
        for (const line of out.split("\n")) {
          if (line.startsWith("P ")) {
            const [, pid, label, ...cmd] = line.split(" ")
            const n = Number(pid)
            // Nodes that share one machine (localhost nodes, lab namespaces) see the same processes.
            if (label === undefined || isLive(label) || seenPids.has(n) || !isProcessId(n)) continue
            seenPids.add(n)
            deadPids.push(n)
            found.push({ node: node.name, kind: "process", what: `pid ${n}: ${cmd.join(" ").trim()}`, label })
          } else if (line.startsWith("R ")) {
            const rule = line.slice(2)
            const label = labelOfRule(rule)
            if (isLive(label)) continue
            found.push({ node: node.name, kind: "iptables-rule", what: rule, label })
            deadRules.push(rule)
          }
        }
        // A dead marker's bandwidth limit goes first (the marker is its only owner record), unless a live session
        // has since put its own limit on that interface.
        for (const rule of deadRules) {
          const dev = qdiscOfRule(rule)
          if (dev === undefined || rules.some((r) => qdiscOfRule(r) === dev && isLive(labelOfRule(r)))) continue
          const present = yield* node.account.exec(removeQdisc(dev, options.dryRun === true), { timeout: "30 seconds" }).pipe(
            Effect.map((r) => r.stdout.includes("present")),
            Effect.orElseSucceed(() => false)
          )
          if (present) found.push({ node: node.name, kind: "qdisc", what: `${dev}: htb ${qdiscHandle}`, label: labelOfRule(rule) })
        }
        if (options.dryRun !== true) {
          for (const rule of deadRules.filter((r) => r.startsWith("-A "))) {
            yield* node.account.exec(`iptables ${rule.replace(/^-A /, "-D ")}`).pipe(Effect.ignore)
          }
        }
        if (options.dryRun !== true && deadPids.length > 0) {
          const pids = deadPids.join(" ")
          yield* node.account.exec(`kill -TERM ${pids} 2>/dev/null; sleep 0.5; kill -KILL ${pids} 2>/dev/null; true`).pipe(Effect.ignore)
        }
      }), { concurrency: 16, discard: true })

    found.push(...yield* cleanLocalScratch(options))
    return found
  })

/**
 * One line per leftover, for people.
 *
 * @since 0.1.0
 * @category utils
 */
export const describe = (leftovers: ReadonlyArray<Leftover>): string =>
  leftovers.length === 0
    ? "no leftovers found"
    : leftovers.map((l) => `${l.node}: ${l.kind} ${l.what} (session ${l.label})`).join("\n")
