// The lab (src/Lab.ts): the processes in the lab's namespaces, found through /proc, and waiting for them to end.
import * as NodeFs from "node:fs/promises"
import type { Duration } from "effect"
import { Effect, Option, Schedule } from "effect"
import type * as L from "../../../Lab.js"
import { processExitPoll, readText } from "./tools.js"

export const netnsInode = (ns: string): Effect.Effect<Option.Option<number>> =>
  Effect.promise(() => NodeFs.stat(`/run/netns/${ns}`).then((s) => Option.some(s.ino), () => Option.none()))

/** Every process whose network namespace is one of `inodes` (what `ip netns pids` does, for all at once). */
export const pidsInNetns = (inodes: ReadonlySet<number>): Effect.Effect<ReadonlyArray<number>> =>
  inodes.size === 0 ? Effect.succeed([]) : Effect.promise(async () => {
    const entries = await NodeFs.readdir("/proc").catch(() => [] as Array<string>)
    const found = await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map(async (e) => {
      const link = await NodeFs.readlink(`/proc/${e}/ns/net`).catch(() => "")
      const m = /^net:\[(\d+)\]$/.exec(link)
      return m !== null && inodes.has(Number(m[1])) ? [Number(e)] : []
    }))
    return found.flat().filter((pid) => pid !== process.pid)
  })

/** A process still counts while it exists and is not a zombie. */
export const isAlive = (pid: number): Effect.Effect<boolean> =>
  Effect.promise(() =>
    NodeFs.readFile(`/proc/${pid}/stat`, "utf8").then(
      (stat) => !/^\d+ \(.*\) Z/s.test(stat),
      () => false
    )
  )

export const survivorsOf = (pids: ReadonlyArray<number>) =>
  Effect.map(Effect.forEach(pids, (pid) => Effect.map(isAlive(pid), (alive) => (alive ? [pid] : []))), (r) => r.flat())

export const awaitExit = (pids: ReadonlyArray<number>, limit: Duration.Duration) =>
  survivorsOf(pids).pipe(
    Effect.repeat({ schedule: Schedule.upTo(processExitPoll, limit), until: (left) => left.length === 0 }),
    Effect.zipRight(survivorsOf(pids))
  )

/** The sshd a pid file names, if that pid is still one of ours (pid files outlive their processes). */
export const sshdFromPidFile = (node: L.LabNode): Effect.Effect<Option.Option<number>> =>
  Effect.gen(function*() {
    const text = yield* readText(node.pidFile)
    const pid = Option.flatMap(text, (t) => (/^\d+\s*$/.test(t) ? Option.some(Number(t)) : Option.none()))
    if (Option.isNone(pid)) return Option.none()
    const cmdline = yield* readText(`/proc/${pid.value}/cmdline`)
    return Option.filter(pid, () => Option.exists(cmdline, (c) => c.includes("sshd") && c.includes(node.sshdConfig)))
  })
