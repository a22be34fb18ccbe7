/** Faults made of iptables rules, each rule commented with the fault's label so that its heal (or a clean) finds it. */
import { Effect } from "effect"
import type { ClusterNode } from "../../../Cluster.js"
import * as Shell from "../../../Shell.js"
import { commandFailed, HealFailed, run, unreachable } from "./commands.js"
import { commentPrefix, escapeRegex } from "./limitsAndIds.js"
import { type Facts, tools } from "./nodeFacts.js"
import { scoped } from "./scopedFault.js"

export const tool = (facts: Facts, name: (typeof tools)[number]) => facts.tools.get(name) ?? name

/** Adds rules in one atomic `iptables-restore` (inserted first, ahead of any ACCEPT a node may have). */
export const addRules = (kind: string, node: ClusterNode, facts: Facts, rules: ReadonlyArray<string>) =>
  run(node, [tool(facts, "iptables-restore"), "-w", "5", "--noflush"], `*filter\n${rules.join("\n")}\nCOMMIT\n`).pipe(
    Effect.mapError((e) => unreachable(kind, node, e)),
    Effect.flatMap((r) => (r.exitCode === 0 ? Effect.void : Effect.fail(commandFailed(kind, node, "iptables-restore", r.stderr))))
  )

/** Deletes every rule carrying exactly this comment, however many of them an apply got to add. */
export const removeRules = (node: ClusterNode, facts: Facts, comment: string) => {
  const pattern = `--comment "?${escapeRegex(comment)}"?( |$)`
  const line = `rules=$(${Shell.quote(tool(facts, "iptables-save"))} -t filter | grep -E -e ${Shell.quote(pattern)} | ` +
    `sed 's/^-A /-D /'); if [ -n "$rules" ]; then printf '*filter\\n%s\\nCOMMIT\\n' "$rules" | ` +
    `${Shell.quote(tool(facts, "iptables-restore"))} -w 5 --noflush; fi`
  return Effect.flatMap(run(node, line), (r) =>
    r.exitCode === 0 ? Effect.void : Effect.fail(new HealFailed({ node: node.name, reason: `removing rules failed: ${r.stderr.trim()}` })))
}

export const commentFor = (label: string, id: string) => `${commentPrefix(label)}${id}`

export const withComment = (comment: string) => `-m comment --comment ${comment}`

/** A fault made of iptables rules on some nodes, healed by deleting the rules carrying its comment. */
export const iptablesFault = (
  kind: string,
  target: string,
  detail: string,
  id: string,
  comment: string,
  perNode: ReadonlyArray<{ readonly node: ClusterNode; readonly facts: Facts; readonly rules: ReadonlyArray<string> }>
) =>
  scoped({
    kind,
    id,
    target,
    detail,
    apply: Effect.forEach(perNode, ({ facts, node, rules }) => addRules(kind, node, facts, rules), {
      concurrency: "unbounded",
      discard: true
    }).pipe(Effect.as({})),
    heal: Effect.forEach(perNode, ({ facts, node }) => removeRules(node, facts, comment), {
      concurrency: "unbounded",
      discard: true
    })
  })
