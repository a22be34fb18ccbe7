import * as NodeFs from "node:fs"

/**
 * Whether a process of this machine is still running. A zombie is not: on some machines init reaps orphans a
 * second or more late, and `kill(pid, 0)` would still find them.
 */
export const isAlive = (pid: number): boolean => {
  try {
    const stat = NodeFs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return false
  }
}
