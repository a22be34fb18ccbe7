import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as Http from "node:http"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const repo = NodePath.resolve(NodePath.dirname(NodeUrl.fileURLToPath(import.meta.url)), "..")
let dir = ""

const ducktape = (...args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = ChildProcess.spawn(process.execPath, [NodePath.join(repo, "bin/ducktape.js"), ...args], { cwd: dir })
    let out = ""
    child.stdout.on("data", (b) => (out += b))
    child.stderr.on("data", (b) => (out += b))
    child.on("close", (code) => resolve({ code, out }))
  })

beforeAll(() => {
  NodeFs.mkdirSync(NodePath.join(repo, ".test-tmp"), { recursive: true })
  dir = NodeFs.mkdtempSync(NodePath.join(repo, ".test-tmp", "cli-"))
  NodeFs.writeFileSync(
    NodePath.join(dir, "mixed.ducktape.ts"),
    `import { Effect } from "effect"
import { Test } from ${JSON.stringify(NodeUrl.pathToFileURL(NodePath.join(repo, "dist/index.js")).href)}
export const Mixed = Test.suite("Mixed", {
  passes: Test.make({ matrix: { n: [1, 2] } }, ({ n }) => Effect.succeed({ doubled: n * 2 })),
  fails: Test.make(() => Test.check(false, "the answer was wrong")),
  skipped: Test.make({ ignore: true }, () => Effect.void)
})
`
  )
  NodeFs.writeFileSync(NodePath.join(dir, "passing.ducktape.ts"), `import { Effect } from "effect"
import { Test } from ${JSON.stringify(NodeUrl.pathToFileURL(NodePath.join(repo, "dist/index.js")).href)}
export const ok = Test.make(() => Effect.void)
`)
  NodeFs.writeFileSync(NodePath.join(dir, "slow.ducktape.ts"), `import { Effect } from "effect"
import { Test } from ${JSON.stringify(NodeUrl.pathToFileURL(NodePath.join(repo, "dist/index.js")).href)}
export const quick = Test.make(() => Effect.void)
export const slow = Test.make(() => Effect.sleep("60 seconds"))
`)
  NodeFs.writeFileSync(NodePath.join(dir, "uncaught.ducktape.ts"), `import { Effect } from "effect"
import { Test } from ${JSON.stringify(NodeUrl.pathToFileURL(NodePath.join(repo, "dist/index.js")).href)}
export const throws = Test.make(() =>
  Effect.zipRight(Effect.sync(() => setTimeout(() => { throw new Error("boom from a timer") }, 50)), Effect.sleep("5 seconds")))
export const rejects = Test.make(() =>
  Effect.zipRight(Effect.sync(() => { void Promise.reject(new Error("nobody awaited me")) }), Effect.sleep("5 seconds")))
`)
  // A cluster of the user's own making: two local nodes with names of its choosing.
  NodeFs.writeFileSync(NodePath.join(dir, "my-cluster.ts"), `import * as NodePath from "node:path"
import { Effect, Layer } from "effect"
import { Cluster, LocalAccount } from ${JSON.stringify(NodeUrl.pathToFileURL(NodePath.join(repo, "dist/index.js")).href)}
const node = (name: string) =>
  LocalAccount.make({ hostname: name, workdir: NodePath.join(process.cwd(), "my-nodes", name) })
export default Layer.scoped(Cluster.Cluster, Effect.flatMap(Effect.all([node("custom-a"), node("custom-b")]), (accounts) =>
  Cluster.make(accounts.map((account, index) => ({ name: account.hostname, index, account, nodeType: undefined })))))
`)
  NodeFs.writeFileSync(NodePath.join(dir, "not-a-cluster.ts"), "export const answer = 42\n")
  NodeFs.writeFileSync(NodePath.join(dir, "needs-cloud.ts"), `import { Context, Effect, Layer } from "effect"
import { Cluster } from ${JSON.stringify(NodeUrl.pathToFileURL(NodePath.join(repo, "dist/index.js")).href)}
class Cloud extends Context.Tag("Cloud")<Cloud, { readonly nodes: number }>() {}
export default Layer.effect(Cluster.Cluster, Effect.flatMap(Cloud, () => Effect.dieMessage("unreachable")))
`)
  NodeFs.writeFileSync(NodePath.join(dir, "broken.ducktape.ts"), "export const x = (\n")
  NodeFs.writeFileSync(NodePath.join(dir, "cluster.json"), JSON.stringify({ nodes: [{ ssh_config: { host: "a", port: "22" } }] }))
})
afterAll(() => NodeFs.rmSync(dir, { recursive: true, force: true }))

describe("ducktape CLI", () => {
  it("exits 1 when a test fails, reports every status, and keeps a broken file as a failed test", async () => {
    const { code, out } = await ducktape("mixed.ducktape.ts", "broken.ducktape.ts", "--cluster", "localhost:2")
    expect(code).toBe(1)
    expect(out).toMatch(/passed:\s+2/)
    expect(out).toMatch(/failed:\s+2/)
    expect(out).toMatch(/ignored:\s+1/)
    expect(out).toContain("the answer was wrong")
    expect(out).toMatch(/broken.*cannot import/)
    expect(out).toContain("mixed.ducktape.ts::Mixed.fails")
    const report = JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "results/latest/report.json"), "utf8"))
    expect(report.results.find((r: { testId: string }) => r.testId === "mixed.Mixed.passes.n=2").data).toEqual({ doubled: 4 })
    // The rerun file selects exactly what failed.
    // Its report balances shards later, read from the file or fetched from a URL alike.
    const shard = (history: string) => ducktape("mixed.ducktape.ts", "--subsets", "2", "--subset", "0", "--historical-report", history, "--collect-only")
    const fromFile = await shard("results/latest/report.json")
    expect(fromFile.code).toBe(0)
    const server = Http.createServer((q, r) => {
      if (q.url === "/report.json") r.end(NodeFs.readFileSync(NodePath.join(dir, "results/latest/report.json")))
      else {
        r.statusCode = 404
        r.end()
      }
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const port = (server.address() as { port: number }).port
      const fromUrl = await shard(`http://127.0.0.1:${port}/report.json`)
      expect(fromUrl.out).toBe(fromFile.out)
      const gone = await shard(`http://127.0.0.1:${port}/gone.json`)
      expect(gone.code).toBe(2)
      expect(gone.out).toContain(`--historical-report http://127.0.0.1:${port}/gone.json cannot be fetched: status 404`)
    } finally {
      server.close()
    }
    const rerun = await ducktape("results/latest/rerun-failed.yml", "--collect-only")
    expect(rerun.out).toContain("mixed.Mixed.fails")
    expect(rerun.out).not.toContain("mixed.Mixed.passes")
  }, 90_000)

  it("an exception thrown outside any Effect fails the tests running, not the whole run", async () => {
    // One at a time, so each exception is pinned on its own test; then a passing test runs on.
    const { code, out } = await ducktape("uncaught.ducktape.ts", "passing.ducktape.ts", "--cluster", "localhost:1", "--results-root", "uncaught-results")
    expect(code).toBe(1)
    expect(out).toMatch(/passed:\s+1/)
    expect(out).toMatch(/failed:\s+2/)
    const report = JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "uncaught-results/latest/report.json"), "utf8"))
    const summary = (id: string) => report.results.find((r: { testId: string }) => r.testId === id).summary
    expect(summary("uncaught.throws")).toContain("an uncaught exception while this test ran: Error: boom from a timer")
    expect(summary("uncaught.rejects")).toContain("Error: nobody awaited me")
    // Each failed at once, not after its 5 s sleep.
    expect(report.results.find((r: { testId: string }) => r.testId === "uncaught.throws").runTimeSeconds).toBeLessThan(4)
  }, 90_000)

  it("runs on a cluster module of the user's (--cluster ./my-cluster.ts), and says what a bad one lacks", async () => {
    const { code, out } = await ducktape("passing.ducktape.ts", "--cluster", "./my-cluster.ts", "--results-root", "module-results")
    expect(out).toMatch(/passed:\s+1/)
    expect(code).toBe(0)
    const report = JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "module-results/latest/report.json"), "utf8"))
    expect(["custom-a", "custom-b"]).toContain(report.results[0].nodes[0])
    const notOne = await ducktape("passing.ducktape.ts", "--cluster", "./not-a-cluster.ts")
    expect(notOne.code).toBe(2)
    expect(notOne.out).toMatch(/--cluster \.\/not-a-cluster\.ts: it exports no Layer \(as default or `cluster`\)\n\s+fix: export default a Layer providing Cluster/)
    const needsMore = await ducktape("passing.ducktape.ts", "--cluster", "./needs-cloud.ts")
    expect(needsMore.code).toBe(2)
    expect(needsMore.out).toMatch(/--cluster \.\/needs-cloud\.ts: its Layer failed: .*Service not found: Cloud/)
    expect(needsMore.out).not.toMatch(/\n\s+at .*\.ts:\d+/)
    const missing = await ducktape("passing.ducktape.ts", "--cluster", "./nope.ts")
    expect(missing.code).toBe(2)
    expect(missing.out).toContain("--cluster ./nope.ts: no such file")
  }, 90_000)

  it("Ctrl-C still prints the summary and where the results are", async () => {
    const child = ChildProcess.spawn(process.execPath, [NodePath.join(repo, "bin/ducktape.js"), "slow.ducktape.ts", "--cluster", "localhost:1"], { cwd: dir })
    let out = ""
    const interruptOnce = (b: Buffer) => {
      out += b
      if (out.includes("START slow.slow")) {
        child.stdout.off("data", interruptOnce)
        child.stdout.on("data", (more) => (out += more))
        child.kill("SIGINT")
      }
    }
    child.stdout.on("data", interruptOnce)
    child.stderr.on("data", (b) => (out += b))
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
    expect(code).toBe(130)
    expect(out).toMatch(/passed:\s+1/)
    expect(out).toMatch(/results: .*results/)
  }, 90_000)

  it("takes defaults from config files, the command line winning, and says when --config-file is missing", async () => {
    const project = NodePath.join(dir, ".ducktape")
    NodeFs.mkdirSync(project, { recursive: true })
    try {
      NodeFs.writeFileSync(NodePath.join(project, "config"), [
        "# project defaults",
        "--exclude mixed.ducktape.ts::Mixed.fails",
        "--exclude mixed.ducktape.ts::Mixed.skipped",
        "--cluster localhost:2",
        "--results-root project-results"
      ].join("\n"))
      NodeFs.writeFileSync(NodePath.join(dir, "mine.conf"), "--results-root my-results\n")
      // Both excludes apply; --config-file beats the project file; --cluster=… on the command line beats both.
      const { code, out } = await ducktape("mixed.ducktape.ts", "--config-file", "mine.conf", "--cluster=localhost:1")
      expect(out).toMatch(/passed:\s+2/)
      expect(code).toBe(0)
      expect(NodeFs.existsSync(NodePath.join(dir, "my-results", "latest", "report.json"))).toBe(true)
      expect(NodeFs.existsSync(NodePath.join(dir, "project-results"))).toBe(false)
      const missing = await ducktape("mixed.ducktape.ts", "--config-file", "nope.conf")
      expect(missing.code).toBe(2)
      expect(missing.out).toContain("--config-file nope.conf: no such file")
    } finally {
      NodeFs.rmSync(project, { recursive: true, force: true })
    }
  }, 90_000)

  it("exits 0 when everything passed, and --collect-only lists without running", async () => {
    expect((await ducktape("passing.ducktape.ts", "--cluster", "localhost:1")).code).toBe(0)
    const { code, out } = await ducktape("mixed.ducktape.ts", "--collect-only")
    expect(code).toBe(0)
    expect(out).toContain("Collected 4 tests")
    expect(out).toContain("mixed.Mixed.passes.n=1")
  }, 90_000)

  it("exits 2 with the problem and the fix for bad input", async () => {
    const missing = await ducktape("no/such/dir")
    expect(missing.code).toBe(2)
    expect(missing.out).toMatch(/no such file or directory: no\/such\/dir\n\s+fix:/)
    const badCluster = await ducktape("passing.ducktape.ts", "--cluster-file", "cluster.json")
    expect(badCluster.code).toBe(2)
    expect(badCluster.out).toContain('nodes[0].ssh_config.port: Expected number, actual "22"')
    const badTimeout = await ducktape("passing.ducktape.ts", "--test-timeout", "soon")
    expect(badTimeout.code).toBe(2)
    expect(badTimeout.out).toContain('--test-timeout "soon" is not a duration')
    const emptyShard = await ducktape("passing.ducktape.ts", "--subsets", "2", "--subset", "1")
    expect(emptyShard.code).toBe(2)
    expect(emptyShard.out).toMatch(/shard 1 of 2 has no tests: the selection has only 1\n\s+fix: use --subsets 1 or fewer/)
    const sampleNone = await ducktape("passing.ducktape.ts", "--sample", "0")
    expect(sampleNone.code).toBe(2)
    expect(sampleNone.out).toContain("--sample 0 would run nothing")
    expect(missing.out + badCluster.out + badTimeout.out + emptyShard.out + sampleNone.out).not.toMatch(/\n\s+at .*\.ts:\d+/) // no stack traces
  }, 90_000)
})
