/**
 * Daemons: processes started detached from the connection, which outlive any scope, and the stopping of their
 * process groups. A daemon is known only by its pid, so starting one must never leave it running with a pid
 * nobody learnt, and stopping one waits for the whole group to be gone.
 */
import { Duration, Effect, Schedule } from "effect"
import type * as RA from "../../../RemoteAccount.js"
import * as Shell from "../../../Shell.js"
import type { Commands } from "./commands.js"
import { timeoutError } from "./commands.js"
import * as CommandLine from "./commandLine.js"
import { releaseTimeout } from "./processes.js"
import * as DaemonExit from "../daemonExit.js"
import { groupOf, isProcessId } from "../pid.js"
import * as Release from "../../shared/release.js"

/** How long starting a daemon may take (it only forks and prints a pid). */
const daemonStartTimeout = Duration.seconds(60)

/** How often a stopping process group is checked for exit. */
const groupExitPoll = Schedule.spaced("50 millis")

// Zombies count as gone: on some machines init reaps orphans a second or more late, and `kill -0` still finds them.
const groupAlive = (commands: Pick<Commands, "exec">, pid: number) =>
  Effect.map(
    commands.exec(`ps -e -o pgid=,stat= | awk -v g=${pid} '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'`),
    (r) => r.exitCode === 0
  )

/** `RemoteAccount.killProcessGroup`. */
export const killProcessGroup = (
  commands: Pick<Commands, "exec">,
  pid: number,
  options: { readonly grace?: Duration.DurationInput } = {}
) =>
  Effect.gen(function*() {
    const group = yield* groupOf(pid)
    yield* Release.termThenKill({
      // A group already gone makes `kill` fail: nothing to report.
      term: Effect.asVoid(commands.exec(["kill", "-s", "TERM", "--", group])),
      kill: Effect.asVoid(commands.exec(["kill", "-s", "KILL", "--", group])),
      ended: Effect.repeat(groupAlive(commands, pid), { schedule: groupExitPoll, while: (alive) => alive }),
      grace: options.grace ?? "5 seconds"
    })
  })

/** `RemoteAccount.spawnDaemon`. */
export const spawnDaemon = (
  identity: RA.Identity,
  commands: Pick<Commands, "exec" | "sshOutput">,
  command: Shell.Command,
  options: RA.CommandOptions & { readonly logFile?: string; readonly pidFile?: string } = {}
) => {
  const resolve = (path: string) => CommandLine.resolve(identity, path)
  const log = options.logFile === undefined ? "/dev/null" : resolve(options.logFile)
  // The pid file is written by the same remote command, so a daemon is never running without it.
  const pidFile = options.pidFile === undefined ? undefined : resolve(options.pidFile)
  // setsid: the daemon leads its own session and process group, so it outlives this channel and can be stopped
  // as a group; `$!` is its pid because a background job of a non-interactive shell is no group leader. A watcher
  // shell (outside that group) reaps it and keeps its exit status for `waitUntil(…, { whileAlive })`.
  const line = DaemonExit.spawnLine(Shell.toLine(command), log, pidFile, [CommandLine.labelVariable, CommandLine.serviceVariable])
  // Interrupted half-way, the daemon would run on with a pid nobody learnt: finish (within a bound), and if the
  // caller was interrupted meanwhile, stop the daemon again — an interrupted start leaves nothing running.
  return Effect.uninterruptibleMask((restore) =>
    Release.bounded(commands.sshOutput(line, options), daemonStartTimeout, () => timeoutError(identity, line, daemonStartTimeout)).pipe(
      Effect.map((out) => Number.parseInt(out.trim(), 10)),
      Effect.flatMap((pid) =>
        restore(Effect.succeed(pid)).pipe(
          Effect.onInterrupt(() =>
            !isProcessId(pid) ? Effect.void : Effect.zipRight(
              killProcessGroup(commands, pid, { grace: Release.killGrace }),
              // A pid file left behind would name a pid that may belong to someone else later.
              options.pidFile === undefined ? Effect.void : commands.exec(["rm", "-f", "--", resolve(options.pidFile)])
            ).pipe((stop) => Release.bounded(stop, releaseTimeout, () => "gave up"), Effect.ignore)
          )
        )
      )
    )
  )
}
