/** Running a fault's commands on a node, and the FaultErrors that say which node, what failed and the fix. */
import { Data, Effect } from "effect"
import type { ClusterNode } from "../../../Cluster.js"
import { FaultError, installHint } from "../errors.js"
import * as Shell from "../../../Shell.js"
import { commandTimeout } from "./limitsAndIds.js"

/**
 * Runs a command with a timeout that works even where the caller is uninterruptible (a scope's release): the
 * command itself is made interruptible, so the timeout can stop it.
 */
export const run = (node: ClusterNode, command: Shell.Command, stdin?: string) =>
  Effect.interruptible(
    node.account.exec(command, { timeout: commandTimeout, ...(stdin === undefined ? {} : { stdin }) })
  )

/** A heal step failed on a node; it is retried, then logged (a heal never fails its scope). */
export class HealFailed extends Data.TaggedError("HealFailed")<{ readonly node: string; readonly reason: string }> {
  override get message(): string {
    return `${this.node}: ${this.reason}`
  }
}

export const fault = (kind: string, node: string, reason: string, fix: string) =>
  new FaultError({ fault: kind, node, reason, fix })

export const unreachable = (kind: string, node: ClusterNode, e: { readonly message: string }) =>
  new FaultError({
    fault: kind,
    node: node.name,
    reason: `cannot run commands on it: ${e.message}`,
    fix: "check that the node is up and reachable over ssh",
    cause: e
  })

export const commandFailed = (kind: string, node: ClusterNode, what: string, stderr: string) =>
  fault(
    kind,
    node.name,
    `${what} failed: ${stderr.trim() === "" ? "no error output" : stderr.trim().split("\n").slice(-5).join("; ")}`,
    `check the node's kernel supports it (iptables comment/statistic matches, tc htb); \`${installHint}\``
  )

export const names = (nodes: ReadonlyArray<ClusterNode>) => nodes.map((n) => n.name).join(" ")

export const isIpv4 = (address: string) => /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(address)
