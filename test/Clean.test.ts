import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Clean from "../src/Clean.js"
import { labelFor } from "../src/internal/shared/sessionLabels.js"
import { isAlive } from "./support/processes.js"

const repo = NodePath.resolve(NodePath.dirname(NodeUrl.fileURLToPath(import.meta.url)), "..")
const bin = NodePath.join(repo, "bin/ducktape.js")

const waitFor = async (check: () => boolean, ms: number) => {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out waiting")
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe("Clean", () => {
  // Every run starts by removing what dead sessions left on its nodes, so the killed driver's leftovers must be
  // out of sight of the runs other test files make at the same time: this test's driver, its daemon and its
  // cleans live in a network namespace of their own (a scan only counts processes in its own network) and
  // keep their scratch directories in a temp dir of their own.
  it.scopedLive("`ducktape clean` removes the processes and scratch directory of a session killed with SIGKILL, and nothing live", () =>
    Effect.gen(function*() {
      // Inside the repository, so the fixture resolves `effect` and loads as an ES module.
      NodeFs.mkdirSync(NodePath.join(repo, ".test-tmp"), { recursive: true })
      const dir = NodeFs.mkdtempSync(NodePath.join(repo, ".test-tmp", "clean-"))
      const tmp = NodePath.join(dir, "tmp")
      NodeFs.mkdirSync(tmp)
      const netns = `dtclean${process.pid}`
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          ChildProcess.execFileSync("ip", ["netns", "add", netns])
          ChildProcess.execFileSync("ip", ["netns", "exec", netns, "ip", "link", "set", "lo", "up"])
        }),
        () => Effect.sync(() => ChildProcess.spawnSync("ip", ["netns", "del", netns]))
      )
      // `ip netns exec` execs its command, so each child's pid is the pid of the program it runs.
      const inNamespace = (argv: ReadonlyArray<string>) => ["netns", "exec", netns, "env", `TMPDIR=${tmp}`, ...argv]
      const ducktape = (...args: Array<string>) =>
        ChildProcess.execFileSync("ip", inNamespace([process.execPath, bin, ...args]), { cwd: dir, encoding: "utf8" })

      const pidFile = NodePath.join(dir, "daemon.pid")
      // A real run whose test starts a daemon through a service and then hangs.
      NodeFs.writeFileSync(
        NodePath.join(dir, "hang.ducktape.ts"),
        `import { Effect } from "effect"
import { Service, Test } from ${JSON.stringify(NodeUrl.pathToFileURL(NodePath.join(repo, "dist/index.js")).href)}
const Daemon = Service.make({
  name: "daemon",
  startNode: (node) => Effect.flatMap(node.account.spawnDaemon("exec sleep 600"), (pid) =>
    node.account.createFile(${JSON.stringify(pidFile)}, String(pid)))
})
export const Hang = Test.suite("Hang", { hang: Test.make(() => Effect.zipRight(Daemon.start(), Effect.never)) })
`
      )
      const driver = ChildProcess.spawn("ip", inNamespace([process.execPath, bin, "hang.ducktape.ts", "--cluster", "localhost:1", "--results-root", "results"]), {
        cwd: dir,
        stdio: "ignore"
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => driver.exitCode === null && driver.signalCode === null && driver.kill("SIGKILL")))
      yield* Effect.promise(() => waitFor(() => NodeFs.existsSync(pidFile) && NodeFs.readFileSync(pidFile, "utf8") !== "", 60_000))
      const daemon = Number(NodeFs.readFileSync(pidFile, "utf8"))
      expect(isAlive(daemon)).toBe(true)
      // If an assertion fails before the clean, the daemon we caused must not outlive the test.
      yield* Effect.addFinalizer(() => Effect.sync(() => daemon > 1 && isAlive(daemon) && process.kill(daemon, "SIGKILL")))
      const scratch = NodeFs.readdirSync(tmp).filter((n) => n.startsWith(`ducktape-localhost-${driver.pid}-`))
      expect(scratch).toHaveLength(1)
      driver.kill("SIGKILL")
      yield* Effect.promise(() => waitFor(() => driver.exitCode !== null || driver.signalCode !== null, 10_000))
      // No scope could run: the daemon survived its driver.
      expect(isAlive(daemon)).toBe(true)

      // A live process of ours, labelled with this (live) test process, must be left alone.
      const live = ChildProcess.spawn("ip", inNamespace(["sleep", "600"]), {
        env: { ...process.env, DUCKTAPE_SESSION: labelFor("live-session") },
        stdio: "ignore"
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => live.kill("SIGKILL")))
      yield* Effect.promise(() => waitFor(() => NodeFs.readFileSync(`/proc/${live.pid}/cmdline`, "utf8").startsWith("sleep"), 5_000))

      const listed = ducktape("clean", "--dry-run").split("\n")
      const mine = listed.filter((l) => l.includes(`/${driver.pid})`) || l.includes(`-${driver.pid}-`))
      expect(mine).toHaveLength(2)
      expect(mine.find((l) => l.includes(" process "))).toContain(`pid ${daemon}:`)
      expect(mine.find((l) => l.includes(" directory "))).toContain(NodePath.join(tmp, scratch[0]!))
      expect(listed.some((l) => l.includes(`pid ${live.pid}:`))).toBe(false)
      expect(listed).toContain("2 leftovers found (dry run: nothing removed)")
      expect(isAlive(daemon)).toBe(true) // a dry run removes nothing

      expect(ducktape("clean")).toContain("removed 2 leftovers")
      yield* Effect.promise(() => waitFor(() => !isAlive(daemon), 5_000))
      expect(NodeFs.existsSync(NodePath.join(tmp, scratch[0]!))).toBe(false)
      expect(isAlive(live.pid!)).toBe(true)
      NodeFs.rmSync(dir, { recursive: true, force: true })
    }), 120_000)
})
