/**
 * Session labels: the mark a session leaves on what it starts on a node (processes, firewall rules, bandwidth
 * limits), and whether the session that left one may still be running. Faults write them; `clean` reads them.
 */
import * as NodeOs from "node:os"

/** The label of sessions driven by this process. */
export const labelFor = (sessionId: string): string => `${sessionId}/${NodeOs.hostname()}/${process.pid}`

/** Whether the session that wrote `label` may still be running (its driver is alive, or we cannot tell). */
export const isLive = (label: string): boolean => {
  const [, host, pid] = label.split("/")
  if (host === undefined || pid === undefined || !/^\d+$/.test(pid)) return false
  if (host !== NodeOs.hostname()) return true // another driver machine: never touch what may be live
  if (Number(pid) === process.pid) return true
  try {
    process.kill(Number(pid), 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** The handle of the htb qdisc a bandwidth fault installs (one per interface). */
export const qdiscHandle = "dd7a:"

/**
 * What ends the iptables comment of the marker rule that records who installed a bandwidth limit on `dev`: a rule
 * without a target (it changes nothing), `-A OUTPUT -o <dev> -m comment --comment ducktape:<label>:<id>:qdisc:<dev>`.
 */
export const qdiscMarker = (dev: string): string => `:qdisc:${dev}`
