// The lab (src/Lab.ts): teardown. `down` ends every process in the lab's namespaces, then removes namespaces, links, rules, files.
import * as NodeFs from "node:fs/promises"
import { withFiles } from "../../shared/files.js"
import * as NodePath from "node:path"
import { Duration, Effect, Option } from "effect"
import type * as L from "../../../Lab.js"
import { signal } from "../../remote/local/processes.js"
import { LabError } from "./errors.js"
import { checkName, invalid } from "./layout.js"
import { bridgeName, forwardRule, isLabLink, isLabNetns } from "./names.js"
import { listLinks, listNetns } from "./network.js"
import { awaitExit, netnsInode, pidsInNetns, sshdFromPidFile, survivorsOf } from "./processes.js"
import { readState } from "./state.js"
import { checkRoot, defaultDownTimeout, failed, findTool, killWait, requireTool, run, termGrace } from "./tools.js"

export const labFiles = ["cluster.json", "known_hosts", "id_ed25519", "id_ed25519.pub", "authorized_keys", "hosts", "nodes"]

/**
 * A link that is already gone. A veth also vanishes, asynchronously, when its peer's namespace is deleted, so
 * "Cannot find device" and "No such device" both mean there is nothing left to delete.
 */
export const goneLink = /Cannot find device|No such device/

export const teardown = (
  tools: { readonly iptables: Option.Option<string> },
  name: string,
  state: Option.Option<L.Lab>,
  removeFilesIn: Option.Option<string>
): Effect.Effect<L.DownSummary, LabError> =>
  Effect.gen(function*() {
    const namespaces = (yield* listNetns(name)).filter(isLabNetns(name))
    const inodes = new Set((yield* Effect.forEach(namespaces, netnsInode)).flatMap(Option.toArray))
    const fromPidFiles = Option.isSome(state)
      ? (yield* Effect.forEach(state.value.nodes, sshdFromPidFile)).flatMap(Option.toArray)
      : []

    // Everything running in a lab namespace is the lab's: sshds, their sessions, services tests started.
    const initial = [...new Set([...fromPidFiles, ...(yield* pidsInNetns(inodes))])]
    yield* signal(initial, "SIGTERM")
    yield* awaitExit(initial, termGrace)
    // Rescan: an sshd may have forked a session between the scan and its signal.
    let ended = new Set(initial)
    let survivors: ReadonlyArray<number> = []
    for (let round = 0; round < 3; round++) {
      const left = [...new Set([...(yield* survivorsOf([...ended])), ...(yield* pidsInNetns(inodes))])]
      if (left.length === 0) {
        survivors = []
        break
      }
      ended = new Set([...ended, ...left])
      yield* signal(left, "SIGKILL")
      survivors = yield* awaitExit(left, killWait)
    }

    const ignoring = (argv: ReadonlyArray<string>, gone: RegExp) =>
      Effect.flatMap(run(name, argv), (ran) =>
        ran.code === 0 || gone.test(ran.stderr) ? Effect.void : Effect.fail(failed(name, argv, ran)))
    yield* Effect.forEach(namespaces, (ns) => ignoring(["ip", "netns", "delete", ns], /No such file/), {
      concurrency: "unbounded",
      discard: true
    })

    // Veths normally vanish with their namespace (asynchronously); one whose namespace outlived its name goes here.
    const links = (yield* listLinks(name)).filter(isLabLink(name))
    const removeLinks = Effect.zipRight(
      Effect.forEach(
        links.filter((l) => l !== bridgeName(name)),
        (link) => ignoring(["ip", "link", "delete", link], goneLink),
        { concurrency: "unbounded", discard: true }
      ),
      Effect.forEach(
        links.filter((l) => l === bridgeName(name)),
        (link) => ignoring(["ip", "link", "delete", link], goneLink),
        { discard: true }
      )
    )
    // `-D` removes one copy of the rule per call; an interrupted earlier `up` may have left more than one.
    const removeRules = Option.match(tools.iptables, {
      onNone: () => Effect.succeed(0),
      onSome: (iptables) => {
        const deleteFrom = (removed: number): Effect.Effect<number, LabError> =>
          removed >= 16 ? Effect.succeed(removed) : Effect.flatMap(
            run(name, [iptables, "-w", "5", "-D", ...forwardRule(name)]),
            (ran) => (ran.code === 0 ? deleteFrom(removed + 1) : Effect.succeed(removed))
          )
        return deleteFrom(0)
      }
    })
    const [, rules] = yield* Effect.all([removeLinks, removeRules], { concurrency: "unbounded" })

    if (Option.isSome(removeFilesIn)) {
      const dir = removeFilesIn.value
      yield* withFiles((fs) =>
        Effect.forEach([...labFiles, "lab.json"], (f) => fs.remove(NodePath.join(dir, f), { recursive: true, force: true }), {
          concurrency: "unbounded",
          discard: true
        })
      ).pipe(Effect.orDie)
      // Only if now empty: a user's own files in the lab's directory stay, and so does the directory.
      yield* Effect.promise(() => NodeFs.rmdir(dir).catch(() => undefined))
    }

    const summary: L.DownSummary = {
      name,
      namespaces,
      links,
      processes: ended.size,
      iptablesRules: rules,
      survivors
    }
    if (summary.namespaces.length + summary.links.length + summary.processes + summary.iptablesRules > 0) {
      yield* Effect.logDebug("lab down", summary)
    }
    return summary
  }).pipe(Effect.annotateLogs({ lab: name }))

/** @internal */
export const down = (options: L.DownOptions): Effect.Effect<L.DownSummary, LabError> =>
  Effect.gen(function*() {
    const label = options.name ?? options.dir ?? "?"
    yield* checkRoot(label)
    yield* requireTool(label, "ip")
    const iptables = yield* findTool("iptables")
    const dir = options.dir === undefined ? Option.none<string>() : Option.some(NodePath.resolve(options.dir))
    const state = Option.isSome(dir) ? yield* readState(dir.value) : Option.none<L.Lab>()
    if (options.name !== undefined && Option.isSome(state) && state.value.name !== options.name) {
      return yield* Effect.fail(
        invalid(options.name, `${Option.getOrElse(dir, () => "")} holds lab ${JSON.stringify(state.value.name)}, not this one`)
      )
    }
    const name = options.name ?? Option.getOrUndefined(Option.map(state, (s) => s.name))
    if (name === undefined) {
      // Nothing recorded and no name: there is nothing to find, which for an idempotent down is success.
      return { name: "?", namespaces: [], links: [], processes: 0, iptablesRules: 0, survivors: [] }
    }
    yield* checkName(name)
    const limit = Duration.decode(options.timeout ?? defaultDownTimeout)
    return yield* teardown({ iptables }, name, state, options.keepFiles === true ? Option.none() : dir).pipe(
      Effect.timeoutFail({
        duration: limit,
        onTimeout: () =>
          new LabError({ lab: name, reason: "timeout", detail: `down did not finish within ${Duration.format(limit)}` })
      })
    )
  }).pipe(Effect.withSpan("Lab.down"))

/** @internal */
export const list: Effect.Effect<ReadonlyArray<string>, LabError> = Effect.gen(function*() {
  yield* requireTool("?", "ip")
  // Interface names with our `dt-` prefix only: namespace names alone (`x-n1`) may belong to someone else.
  const names = (yield* listLinks("?")).flatMap((l) => {
    const m = /^dt-([a-z][a-z0-9]{0,7})-(?:br|\d+)$/.exec(l)
    return m?.[1] === undefined ? [] : [m[1]]
  })
  return [...new Set(names)].sort()
})

export const anythingPresent = (name: string) =>
  Effect.map(
    Effect.all([listLinks(name), listNetns(name)]),
    ([links, namespaces]) => links.some(isLabLink(name)) || namespaces.some(isLabNetns(name))
  )
