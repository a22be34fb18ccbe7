/**
 * Finding, probing and signalling processes on a node by pid or by command line, through shell commands (`pgrep`,
 * `kill`): what services use to stop processes they know by a pid file or by name. Anything but a real pid is
 * refused, so a bad pid line can never signal a whole machine (see isProcessId).
 */
import { Effect } from "effect"
import type * as RA from "../../../RemoteAccount.js"
import * as Shell from "../../../Shell.js"
import type { Commands } from "./commands.js"
import { isProcessId } from "../pid.js"

/** `RemoteAccount.pids`. */
export const pids = (commands: Pick<Commands, "exec">, pattern: string) =>
  Effect.gen(function*() {
    // pgrep excludes itself but not the shell that runs it, whose command line also holds the pattern.
    const r = yield* commands.exec(`pgrep -f -- ${Shell.quote(pattern)}; echo "self $$"`)
    const out = r.stdout.trim().split("\n")
    const self = out.find((l) => l.startsWith("self "))
    const selfPid = self === undefined ? -1 : Number.parseInt(self.slice(5), 10)
    return out.filter((l) => /^\d+$/.test(l)).map(Number).filter((p) => p !== selfPid)
  })

// A zombie has exited; `kill -0` still finds it until its parent reaps it, which for an orphan is init's call
// (seconds on some machines). Its state in /proc tells.
export const alive = (commands: Pick<Commands, "exec">, pid: number) =>
  Effect.map(
    commands.exec(
      `kill -0 ${pid} 2>/dev/null && ! { s=$(cat /proc/${pid}/stat 2>/dev/null) && s=\${s##*) } && [ "\${s%% *}" = Z ]; }`
    ),
    (r) => r.exitCode === 0
  )

/** `RemoteAccount.signal`. */
export const signal = (commands: Pick<Commands, "ssh">, pid: number, sig: RA.Signal) =>
  isProcessId(pid)
    ? commands.ssh(["kill", "-s", sig, String(pid)])
    : Effect.dieMessage(`refusing to signal ${pid}: give the pid of one process (not 0, 1 or a negative group)`)

/** `RemoteAccount.killProcess`. */
export const killProcess = (commands: Pick<Commands, "exec">, pattern: string, options: { readonly clean?: boolean } = {}) =>
  Effect.gen(function*() {
    const found = yield* pids(commands, pattern)
    const sig: RA.Signal = options.clean === false ? "KILL" : "TERM"
    // A process may exit between pgrep and kill; that is not an error.
    yield* Effect.forEach(found.filter(isProcessId), (p) => commands.exec(["kill", "-s", sig, String(p)]), { discard: true })
    return found
  })
