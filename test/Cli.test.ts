import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as Http from "node:http"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { useColor } from "../src/internal/cli/flags.js"
import { makeProgress } from "../src/internal/runner/session/progress.js"

const repo = NodePath.resolve(NodePath.dirname(NodeUrl.fileURLToPath(import.meta.url)), "..")
let dir = ""

const ducktapeWith = (env: Readonly<Record<string, string>>, ...args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = ChildProcess.spawn(process.execPath, [NodePath.join(repo, "bin/ducktape.js"), ...args], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "", FORCE_COLOR: "", ...env }
    })
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
  const index = JSON.stringify(NodeUrl.pathToFileURL(NodePath.join(repo, "dist/index.js")).href)
  NodeFs.writeFileSync(NodePath.join(dir, "clash.ducktape.ts"), `import { Effect } from "effect"
import { Test } from ${index}
export const t = Test.make({ cluster: 1, parametrize: [{ v: "a b" }, { v: "ab" }, { v: "日本" }, { v: "中文" }] }, ({ v }) => Effect.succeed(v))
`)
  NodeFs.writeFileSync(NodePath.join(dir, "mends.ducktape.ts"), `import { Effect } from "effect"
import { Cluster, Test, TestContext } from ${index}
export const skips = Test.make(() => Effect.zipRight(Effect.logInfo("looking for a widget"), Test.skip("no widget on this machine")))
export const huge = Test.make(() => Test.check(false, "expected 1, got " + "x".repeat(2_000_000)))
export const region = Test.make(() =>
  Effect.flatMap(TestContext.TestContext, (ctx) => Test.checkEqual(ctx.globals, { region: "eu west" }, "globals")))
export const direct = Test.make({ cluster: 1 }, () =>
  Effect.flatMap(Cluster.Cluster, (cluster) => cluster.all[0]!.account.ssh("true")))
export const wasteful = Test.make({ cluster: 2 }, () =>
  Effect.flatMap(Cluster.Cluster, (cluster) => cluster.all[0]!.account.ssh("true")))
// Its teardown takes long enough for a second Ctrl-C to arrive while it runs.
export const slowTeardown = Test.make(() =>
  Effect.zipRight(Effect.addFinalizer(() => Effect.sleep("30 seconds")), Effect.sleep("60 seconds")))
export const remote = Test.make({ cluster: 1 }, () =>
  Effect.flatMap(Cluster.Cluster, (cluster) => cluster.all[0]!.account.ssh("echo to stderr >&2; exit 3")))
`)
  NodeFs.writeFileSync(NodePath.join(dir, "cluster.json"), JSON.stringify({ nodes: [{ ssh_config: { host: "a", port: "22" } }] }))
})
afterAll(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
const ducktape = (...args: ReadonlyArray<string>) => ducktapeWith({}, ...args)

describe("ducktape CLI", () => {
  it("exits 1 when a test fails, reports every status, and keeps a broken file as a failed test", async () => {
    const { code, out } = await ducktape("mixed.ducktape.ts", "broken.ducktape.ts", "--cluster", "localhost:2")
    expect(code).toBe(1)
    expect(out).toMatch(/\b2 passed\b/)
    expect(out).toMatch(/\b2 failed\b/)
    expect(out).toMatch(/\b1 ignored\b/)
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
    expect(out).toMatch(/\b1 passed\b/)
    expect(out).toMatch(/\b2 failed\b/)
    const report = JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "uncaught-results/latest/report.json"), "utf8"))
    const summary = (id: string) => report.results.find((r: { testId: string }) => r.testId === id).summary
    expect(summary("uncaught.throws")).toContain("an uncaught exception while this test ran: Error: boom from a timer")
    expect(summary("uncaught.rejects")).toContain("Error: nobody awaited me")
    // Each failed at once, not after its 5 s sleep.
    expect(report.results.find((r: { testId: string }) => r.testId === "uncaught.throws").runTimeSeconds).toBeLessThan(4)
  }, 90_000)

  it("runs on a cluster module of the user's (--cluster ./my-cluster.ts), and says what a bad one lacks", async () => {
    const { code, out } = await ducktape("passing.ducktape.ts", "--cluster", "./my-cluster.ts", "--results-root", "module-results")
    expect(out).toMatch(/\b1 passed\b/)
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
    expect(out).toMatch(/\b1 passed\b/)
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
      expect(out).toMatch(/\b2 passed\b/)
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

  it("on a Node.js older than package.json's engines, says which it needs and exits 2, before anything else", async () => {
    // The Node this process runs, passed off as 20.5.1 (node:module's register came in 20.6).
    const pretend = `data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"20.5.1"}})`
    for (const args of [["--version"], ["passing.ducktape.ts"]]) {
      const old = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = ChildProcess.spawn(process.execPath, ["--import", pretend, NodePath.join(repo, "bin/ducktape.js"), ...args], { cwd: dir })
        let out = ""
        child.stdout.on("data", (b) => (out += b))
        child.stderr.on("data", (b) => (out += b))
        child.on("close", (code) => resolve({ code, out }))
      })
      expect(old.out).toBe(
        "error: ducktape-effect needs Node.js 20.6.0 or later (it loads your TypeScript test files through node:module's register), " +
          "and this is 20.5.1: install a newer Node.js, e.g. the current LTS\n"
      )
      expect(old.code).toBe(2)
    }
    // This Node is new enough.
    expect((await ducktape("--version")).code).toBe(0)
  }, 60_000)

  it("exits 2 with the problem and the fix for bad input", async () => {
    const missing = await ducktape("no/such/dir")
    expect(missing.code).toBe(2)
    expect(missing.out).toMatch(/no such file or directory: no\/such\/dir\n\s+fix:/)
    const badCluster = await ducktape("passing.ducktape.ts", "--cluster-file", "cluster.json")
    expect(badCluster.code).toBe(2)
    expect(badCluster.out).toContain('nodes[0].ssh_config.port: Expected number, actual "22"')
    const fileAsKind = await ducktape("passing.ducktape.ts", "--cluster", "cluster.json")
    expect(fileAsKind.code).toBe(2)
    expect(fileAsKind.out).toMatch(/--cluster "cluster.json" names a file, and --cluster takes a kind of cluster\n\s+fix: pass a cluster file as --cluster-file cluster.json/)
    const unknownKind = await ducktape("passing.ducktape.ts", "--cluster", "kubernetes:3")
    expect(unknownKind.code).toBe(2)
    expect(unknownKind.out).toMatch(/--cluster "kubernetes:3" is not a cluster this tool knows\n\s+fix: use --cluster localhost:N, docker:N or/)
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

  it("every declared case shows up: parameters whose ids collide FAIL, naming the twin, and the run exits 1", async () => {
    const { code, out } = await ducktape("clash.ducktape.ts", "--cluster", "localhost:1", "--results-root", "clash-results")
    expect(code).toBe(1)
    expect(out).toContain("running 4 tests")
    expect(out).toMatch(/\b2 passed, 0 flaky, 2 failed\b/)
    expect(out).toContain('its parameters {"v":"中文"} give the same id as {"v":"日本"}')
  }, 90_000)

  it("bad flag values get one problem naming the flag and the fix, exit 2, before anything runs", async () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["--subsets", "0"], "--subsets 0 is less than 1"],
      [["--repeat", "0"], "--repeat 0 is less than 1"],
      [["--repeat", "-1"], "--repeat -1 is less than 1"],
      [["--deflake", "0"], "--deflake 0 is less than 1"],
      [["--deflake", "-2"], "--deflake -2 is less than 1"],
      [["--max-parallel", "abc"], '--max-parallel "abc" is not a whole number'],
      [["--max-paralel", "2"], "unknown flag --max-paralel (did you mean --max-parallel?)"],
      [["--repeat"], "--repeat needs a value"]
    ]
    const noCommand = await ducktape("lab")
    expect(noCommand).toEqual({ code: 2, out: "error: ducktape lab needs a command: up or down\n  fix: run e.g. ducktape lab up (ducktape lab --help lists them)\n" })
    const misspelt = await ducktape("clean", "--dry-rn")
    expect(misspelt.code).toBe(2)
    expect(misspelt.out).toContain("unknown flag --dry-rn (did you mean --dry-run?)")
    for (const [flags, problem] of cases) {
      const r = await ducktape("passing.ducktape.ts", "--cluster", "localhost:1", ...flags)
      expect(r.code, flags.join(" ")).toBe(2)
      expect(r.out).toBe(`error: ${problem}\n${r.out.split("\n")[1]}\n`)
      expect(r.out.split("\n")[1]).toMatch(/^  fix: (pass|write) --/)
    }
    NodeFs.writeFileSync(NodePath.join(dir, "not-a-report.json"), JSON.stringify({ results: "no" }))
    const history = await ducktape("passing.ducktape.ts", "--subsets", "2", "--historical-report", "not-a-report.json")
    expect(history.code).toBe(2)
    expect(history.out).toBe("error: --historical-report not-a-report.json is not a ducktape report.json\n" +
      "  fix: pass the report.json of an earlier run (a file or an http(s) URL)\n")
  }, 90_000)

  it("--help shows each flag's own description, its default and examples; colors only on request", async () => {
    const piped = await ducktape("--help")
    expect(piped.code).toBe(0)
    expect(piped.out).not.toContain("A user-defined piece of text")
    expect(piped.out).toMatch(/--max-parallel N\n\s+Most tests running at once .*\(default: 4\)/)
    expect(piped.out).toContain("EXAMPLES\n  ducktape tests/")
    expect(piped.out).not.toContain("\x1b[")
    expect((await ducktapeWith({ FORCE_COLOR: "1" }, "--help")).out).toContain("\x1b[1m")
    expect((await ducktapeWith({ FORCE_COLOR: "", NO_COLOR: "1" }, "lab", "up", "--help")).out).toMatch(/^ducktape lab up [^\x1b]*--nodes N[^\x1b]*$/s)
    const merge = await ducktape("report", "merge")
    expect(merge.code).toBe(2)
    expect(merge.out).not.toContain("\x1b[")
  }, 90_000)

  it("Test.skip ends a test as IGNORE with its reason; a huge message is cut, kept whole in a file", async () => {
    const { code, out } = await ducktape("mends.ducktape.ts::skips", "mends.ducktape.ts::huge", "--cluster", "localhost:1", "--results-root", "mends-results")
    expect(code).toBe(1)
    expect(out).toContain("IGNORE mends.skips")
    expect(out).toContain("skipped: no widget on this machine")
    expect(out.length).toBeLessThan(20_000)
    const session = NodePath.join(dir, "mends-results/latest")
    const report = JSON.parse(NodeFs.readFileSync(NodePath.join(session, "report.json"), "utf8"))
    const byId = (id: string) => report.results.find((r: { testId: string }) => r.testId === id)
    expect(byId("mends.skips")).toMatchObject({ status: "IGNORE", summary: "skipped: no widget on this machine" })
    expect(NodeFs.statSync(NodePath.join(session, "report.json")).size).toBeLessThan(200_000)
    expect(NodeFs.statSync(NodePath.join(session, "report.txt")).size).toBeLessThan(50_000)
    expect(NodeFs.statSync(NodePath.join(session, "session.log")).size).toBeLessThan(50_000)
    expect(byId("mends.huge").summary).toMatch(/more characters: the whole is in failure\.txt/)
    expect(NodeFs.readFileSync(NodePath.join(session, byId("mends.huge").resultsDir, "failure.txt"), "utf8")).toContain("x".repeat(2_000_000))
    expect(NodeFs.readFileSync(NodePath.join(session, "report.xml"), "utf8")).toContain("no widget on this machine")
  }, 90_000)

  it("config files are read with shell quoting; the rerun command repeats the run's cluster and flags", async () => {
    NodeFs.writeFileSync(NodePath.join(dir, "quoted.conf"), `# a value with spaces, in quotes
--globals '{"region": "eu west"}'   # trailing comment
--cluster localhost:1 --results-root "quoted results"
`)
    const { code, out } = await ducktape("mends.ducktape.ts::region", "mends.ducktape.ts::remote", "--config-file", "quoted.conf", "--max-parallel", "1")
    expect(out).toContain("PASS   mends.region")
    expect(code).toBe(1)
    expect(out).toContain(`npx ducktape --max-parallel 1 --globals '{"region": "eu west"}' --cluster localhost:1 --results-root 'quoted results' mends.ducktape.ts::remote`)
    const unclosed = NodePath.join(dir, "unclosed.conf")
    NodeFs.writeFileSync(unclosed, "--cluster localhost:1\n--globals '{\"a\": 1}\n")
    const bad = await ducktape("passing.ducktape.ts", "--config-file", "unclosed.conf")
    expect(bad.code).toBe(2)
    expect(bad.out).toContain("unclosed.conf, line 2: the single quote opened here is never closed")
  }, 90_000)

  it("prints a short summary at the end, not the whole report; failures show the user's frames, not the library's", async () => {
    const { out } = await ducktape("mends.ducktape.ts::remote", "--cluster", "localhost:1", "--results-root", "frames-results")
    expect(out).not.toContain("SESSION REPORT")
    expect(out).toMatch(/FAILED\n  mends\.remote: /)
    expect(out).toMatch(/full report: .*frames-results\/.*\/report\.txt/)
    const report = JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "frames-results/latest/report.json"), "utf8"))
    const detail: string = report.results[0].failure.detail
    expect(detail).not.toMatch(/node_modules|src\/internal/)
    expect(detail).toMatch(/called at:\n\s+at .*mends\.ducktape\.ts:\d+/)
    expect(detail).toMatch(/frames of ducktape and its libraries hidden: --debug shows them/)
    const debug = await ducktape("mends.ducktape.ts::remote", "--cluster", "localhost:1", "--results-root", "frames-results", "--debug")
    expect(debug.code).toBe(1)
    const withDebug = JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "frames-results/latest/report.json"), "utf8"))
    expect(withDebug.results[0].failure.detail).toMatch(/node_modules|src\/internal/)
  }, 90_000)

  it("--fail-bad-cluster-utilization counts a node used through its account", async () => {
    const { code, out } = await ducktape("mends.ducktape.ts::direct", "--cluster", "localhost:1", "--fail-bad-cluster-utilization")
    expect(out).toContain("PASS   mends.direct")
    expect(code).toBe(0)
    const wasteful = await ducktape("mends.ducktape.ts::wasteful", "--cluster", "localhost:2", "--fail-bad-cluster-utilization")
    expect(wasteful.out).toContain("FAIL   mends.wasteful (")
    expect(wasteful.out).toContain("the test declared 2 nodes but used at most 1; declare fewer")
    expect(wasteful.code).toBe(1)
  }, 90_000)

  it("a second Ctrl-C exits at once, still writing the reports, and says how to clean up", async () => {
    const child = ChildProcess.spawn(process.execPath, [
      NodePath.join(repo, "bin/ducktape.js"), "passing.ducktape.ts", "mends.ducktape.ts::slowTeardown",
      "--cluster", "localhost:1", "--results-root", "twice-results"
    ], { cwd: dir })
    let out = ""
    let sent = 0
    const onData = (b: Buffer) => {
      out += b
      if (sent === 0 && out.includes("START mends.slowTeardown")) {
        sent = 1
        child.kill("SIGINT")
      } else if (sent === 1 && out.includes("stopping: interrupted")) {
        sent = 2
        child.kill("SIGINT")
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
    expect(code).toBe(130)
    expect(out).toContain("exiting now, without teardown")
    expect(out).toMatch(/remove them with:\n  ducktape clean\n/)
    const report = JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "twice-results/latest/report.json"), "utf8"))
    expect(report.interrupted).toBe(true)
    expect(report.results.map((r: { testId: string }) => r.testId)).toContain("passing.ok")
    expect(report.notRun).toContain("mends.slowTeardown")
    expect(NodeFs.readFileSync(NodePath.join(dir, "twice-results/latest/report.txt"), "utf8")).toContain("passing.ok")
  }, 90_000)

  it("progress lines follow NO_COLOR and FORCE_COLOR, on a terminal or not", () => {
    expect(useColor({ isTTY: true }, {})).toBe(true)
    expect(useColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false)
    expect(useColor({ isTTY: false }, {})).toBe(false)
    expect(useColor({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true)
    expect(useColor({ isTTY: true }, { FORCE_COLOR: "0" })).toBe(false)
    const printed = (color: boolean) => {
      let text = ""
      const progress = makeProgress({ isTTY: true, columns: 200, write: (t: string) => (text += t) }, { color })
      const result = { testId: "m.t", status: "FAIL", summary: "x".repeat(5000), runTimeSeconds: 1 } as never
      Effect.runSync(Effect.zipRight(progress.onEvent({ _tag: "TestFinished", result, willRetry: false }), progress.close))
      return text
    }
    expect(printed(true)).toContain("\x1b[31mFAIL")
    const plain = printed(false)
    expect(plain).not.toMatch(/\x1b\[\d+m/)
    // A huge message is cut on the progress line.
    expect(plain.length).toBeLessThan(1000)
  })
  it("ducktape check: exit 0 linearizable, 1 not (with the counterexample), 2 bad input naming file, line and fix, 3 unknown", async () => {
    const write = (name: string, lines: ReadonlyArray<string>) => NodeFs.writeFileSync(NodePath.join(dir, name), lines.join("\n") + "\n")
    write("valid.edn", [
      "{:type :invoke, :f :write, :value 1, :process 0, :time 0}",
      "{:type :ok, :f :write, :value 1, :process 0, :time 10}",
      "{:type :invoke, :f :read, :value nil, :process 1, :time 20}",
      "{:type :ok, :f :read, :value 1, :process 1, :time 30}"
    ])
    const event = (type: string, process: number, f: string, value: unknown, time: number) => JSON.stringify({ type, process, f, value, time })
    write("stale.jsonl", [event("invoke", 0, "write", 1, 0), event("ok", 0, "write", 1, 10), event("invoke", 1, "read", null, 20), event("ok", 1, "read", 2, 30)])
    write("broken.jsonl", [event("invoke", 0, "write", 1, 0), "{\"type\":\"ok\", oops"])

    const valid = await ducktape("check", "valid.edn", "--model", "cas-register")
    expect(valid.out).toMatch(/^linearizable \(cas-register model; 2 ops/)
    expect(valid.code).toBe(0)

    const invalid = await ducktape("check", "stale.jsonl", "--model", "register")
    expect(invalid.code).toBe(1)
    expect(invalid.out).toContain("NOT linearizable")
    expect(invalid.out).toMatch(/cannot be placed:\n\s+process 1: read → 2.*line 3/)

    const broken = await ducktape("check", "broken.jsonl", "--model", "register")
    expect(broken.code).toBe(2)
    expect(broken.out).toMatch(/^error: cannot read history broken\.jsonl:2: .*\n\s+fix: /)
    expect(broken.out).not.toMatch(/\bat .*\.js:\d+/)

    const model = await ducktape("check", "valid.edn", "--model", "registr")
    expect(model.code).toBe(2)
    expect(model.out).toContain("unknown model \"registr\"")
    expect(model.out).toContain("register, cas-register, kv, set, queue, counter")

    const missing = await ducktape("check", "nowhere.edn", "--model", "register")
    expect(missing.code).toBe(2)
    expect(missing.out).toContain("no such file: nowhere.edn")

    const noModel = await ducktape("check", "valid.edn")
    expect(noModel.code).toBe(2)
    expect(noModel.out).toContain("needs --model")

    // 40 writes whose outcome is unknown, then reads in an order no search settles within a millisecond.
    const hard: Array<string> = []
    let t = 0
    for (let p = 0; p < 40; p++) hard.push(event("invoke", p, "write", p, t++))
    for (let p = 0; p < 40; p++) hard.push(event("info", p, "write", p, t++))
    for (let i = 0; i < 40; i++) hard.push(event("invoke", 100 + i, "read", null, t++), event("ok", 100 + i, "read", (i * 7) % 40, t++))
    write("hard.jsonl", hard)
    const unknown = await ducktape("check", "hard.jsonl", "--model", "register", "--time-limit", "1ms")
    expect(unknown.out).toContain("time limit")
    expect(unknown.code).toBe(3)

    const badLimit = await ducktape("check", "valid.edn", "--model", "register", "--time-limit", "soon")
    expect(badLimit.code).toBe(2)
    expect(badLimit.out).toContain("--time-limit \"soon\" is not a duration")

    const help = await ducktape("--help")
    expect(help.out).toMatch(/check\s+Check a history file/)
    const checkHelp = await ducktape("check", "--help")
    expect(checkHelp.out).toContain("--model NAME")
    expect(checkHelp.out).toContain("ducktape check store/latest/history.edn --model cas-register")
  })
})
