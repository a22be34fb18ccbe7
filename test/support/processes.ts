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

/** The live processes whose command line is exactly `argv`. */
export const processesRunning = (argv: ReadonlyArray<string>): ReadonlyArray<number> => {
  const wanted = argv.join("\0") + "\0"
  return NodeFs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      return NodeFs.readFileSync(`/proc/${pid}/cmdline`, "utf8") === wanted && isAlive(pid)
    } catch {
      return false
    }
  })
}
