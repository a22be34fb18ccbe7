import * as Shell from "../../Shell.js"

/**
 * A daemon's exit status. A daemon started by `spawnDaemon` is reaped by a small watcher shell of the same remote
 * command, which writes the status to a file named by the pid; whoever waits on the daemon (a log wait with
 * `whileAlive`) reads it once the pid is gone. Without a watcher nobody could learn it: an orphan's status goes to
 * init.
 */

/** The file the watcher writes a daemon's exit status to, as a shell word (`$p` expands to the pid). */
export const exitFileWord = (pidWord: string) => `"\${TMPDIR:-/tmp}/ducktape-exit.${pidWord}"`

/**
 * The line that starts `command` as a daemon (its own session, output appended to `log`) under a watcher, and
 * prints the daemon's pid (after writing it to `pidFile`, when given). The watcher lets go of the output at once,
 * so the line ends at once; it drops the marks (`markVariables`: the session label, the service's mark), which only
 * the daemon carries: the watcher ends with the daemon, so `ducktape clean` has nothing to find in it.
 */
export const spawnLine = (command: string, log: string, pidFile: string | undefined, markVariables: ReadonlyArray<string>) => {
  const n = markVariables.length
  const restore = markVariables.map((v, i) => `[ -z "$${i + 1}" ] || export ${v}="$${i + 1}"; `).join("")
  const watcher = `( ${restore}setsid /bin/sh -c "$${n + 1}" >> "$${n + 2}" 2>&1 < /dev/null & ` +
    `p=$!; f=${exitFileWord("$p")}; rm -f "$f"; echo "$p"; exec > /dev/null 2>&1 < /dev/null; wait "$p"; echo $? > "$f" ) &`
  const quotedPidFile = pidFile === undefined ? undefined : Shell.quote(pidFile)
  return `p=$(env ${markVariables.map((v) => `-u ${v} `).join("")}/bin/sh -c ${Shell.quote(watcher)} sh ` +
    `${markVariables.map((v) => `"\${${v}-}" `).join("")}${Shell.quote(command)} ${Shell.quote(log)}); ` +
    (quotedPidFile === undefined ? `echo "$p"` : `echo "$p" > ${quotedPidFile}; cat ${quotedPidFile}`)
}

/**
 * A command that ends once process `pid` is gone (a zombie counts as gone) and prints its exit status if its
 * watcher wrote one (waiting briefly for it: the watcher writes just after it reaps).
 */
export const awaitExitLine = (pid: number) =>
  `p=${pid}; f=${exitFileWord("$p")}; ` +
  `while s=$(cat /proc/$p/stat 2>/dev/null) && s=\${s##*) } && [ "\${s%% *}" != Z ]; do sleep 0.05; done; ` +
  `i=0; while [ ! -s "$f" ] && [ $i -lt 10 ]; do sleep 0.05; i=$((i+1)); done; cat "$f" 2>/dev/null; rm -f "$f"`
