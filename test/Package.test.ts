/**
 * The package as a user meets it: `npm pack` of this checkout installed into a fresh `npm init -y` project (npm
 * writes "type": "commonjs" there), beside the user's own `effect`. What ships is the build in dist/, so this is
 * the test of what users run: plain `node` imports it, their strict `tsc` accepts it, `npx ducktape` runs a
 * TypeScript test file, the vitest entry runs, and a project on another major Effect hears why it cannot.
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshProject as freshProjectIn, npm, pack, repo, run, write } from "./support/packedProject.js"

const work = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "ducktape-package-"))
afterAll(() => NodeFs.rmSync(work, { recursive: true, force: true }))

const freshProject = (name: string) => freshProjectIn(work, name)

const systemTestFile = `import { Effect } from "effect"
import { Cluster, Test } from "ducktape-effect"

export const Hello = Test.suite("Hello", {
  /** A command on the node answers. */
  greets: Test.make({ cluster: 1 }, () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      const node = cluster.all[0]!
      const out = yield* node.account.sshOutput("echo hello")
      yield* Test.check(out.trim() === "hello", \`got \${out}\`)
      return { said: out.trim() }
    }))
})
`

let tarball = ""
let packedFiles: ReadonlyArray<string> = []
beforeAll(async () => {
  const packed = await pack(work)
  tarball = packed.tarball
  packedFiles = packed.files
}, 120_000)

describe("the packed package", () => {
  it("ships the build, its templates and the command, not our tests, benchmarks or CI", () => {
    expect(packedFiles).toContain("dist/index.js")
    expect(packedFiles).toContain("dist/index.d.ts")
    expect(packedFiles).toContain("dist/vitest.d.ts")
    expect(packedFiles).toContain("bin/ducktape.js")
    expect(packedFiles.filter((f) => /^(test|bench|\.ci|scratch)\//.test(f))).toEqual([])
    expect(packedFiles.filter((f) => f.startsWith("dist/") && /\.test\./.test(f))).toEqual([])
  })

  it("in a fresh `npm init -y` project with effect 3: imports, type-checks, runs a TypeScript test and the vitest entry", async () => {
    const dir = await freshProject("effect3")
    const installed = await npm(dir, "install", tarball, "effect@3", "typescript@~5.9.0", "vitest@~3.2.0")
    expect(installed.code, installed.out).toBe(0)
    expect(JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "package.json"), "utf8")).type).toBe("commonjs")

    // Plain node, no loader: the built ESM and both entries.
    const imported = await run(dir, process.execPath, [
      "--input-type=module",
      "-e",
      `const m = await import("ducktape-effect"); const v = await import("ducktape-effect/vitest");
       console.log(typeof m.Test.make, typeof v.systemTest)`
    ])
    expect(imported.out.trim(), imported.out).toBe("function function")
    expect(imported.code).toBe(0)
    // Internals stay closed.
    const internal = await run(dir, process.execPath, ["--input-type=module", "-e", `await import("ducktape-effect/internal/runner")`])
    expect(internal.code).not.toBe(0)
    expect(internal.out).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED")

    // The user's own strict compile, with no @types of ours installed by them.
    write(dir, "tests/hello.ducktape.ts", systemTestFile)
    write(dir, "tsconfig.json", JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true },
      include: ["tests"]
    }))
    const tsc = await run(dir, process.execPath, [NodePath.join(dir, "node_modules/typescript/bin/tsc"), "-p", "."])
    expect(tsc.out).toBe("")
    expect(tsc.code).toBe(0)
    // Also with our declaration files checked (skipLibCheck off), in a project without @types/node.
    expect(NodeFs.existsSync(NodePath.join(dir, "node_modules/@types/node"))).toBe(false)
    const strictLib = await run(dir, process.execPath, [NodePath.join(dir, "node_modules/typescript/bin/tsc"), "-p", ".", "--skipLibCheck", "false"])
    expect(strictLib.out).toBe("")
    expect(strictLib.code).toBe(0)

    // The command runs a TypeScript test file in a "commonjs" project.
    const ducktape = await run(dir, NodePath.join(dir, "node_modules/.bin/ducktape"), ["tests", "--cluster", "localhost:1"])
    expect(ducktape.out).toContain("PASS")
    expect(ducktape.out).not.toContain("FAIL")
    expect(ducktape.code, ducktape.out).toBe(0)
    const version = await run(dir, NodePath.join(dir, "node_modules/.bin/ducktape"), ["--version"])
    expect(version.out.trim()).toBe(`ducktape ${JSON.parse(NodeFs.readFileSync(NodePath.join(repo, "package.json"), "utf8")).version}`)
    const help = await run(dir, NodePath.join(dir, "node_modules/.bin/ducktape"), ["--help"])
    expect(help.out).toContain("--cluster")
    expect(help.code).toBe(0)

    // The vitest entry runs the same test under vitest.
    write(dir, "tests/hello.test.ts", `import { Cluster } from "ducktape-effect"
import { systemTest } from "ducktape-effect/vitest"
import { Hello } from "./hello.ducktape.js"

systemTest("greets", { cluster: Cluster.localhost({ numNodes: 1 }) }, Hello)
`)
    const vitest = await run(dir, NodePath.join(dir, "node_modules/.bin/vitest"), ["run", "tests/hello.test.ts"], { CI: "1" })
    expect(vitest.out).toMatch(/1 passed/)
    expect(vitest.code, vitest.out).toBe(0)
  }, 300_000)

  it("beside effect 4: npm refuses the conflict, and if forced, the command names the versions and the fix", async () => {
    const dir = await freshProject("effect4")
    const effect4 = await npm(dir, "install", "effect@4")
    expect(effect4.code, effect4.out).toBe(0)
    const refused = await npm(dir, "install", tarball)
    expect(refused.code).not.toBe(0)
    expect(refused.out).toContain("ERESOLVE")
    expect(refused.out).toMatch(/peer effect@"\^3\./)

    const forced = await npm(dir, "install", "--legacy-peer-deps", tarball)
    expect(forced.code, forced.out).toBe(0)
    write(dir, "tests/hello.ducktape.ts", systemTestFile)
    const ducktape = await run(dir, NodePath.join(dir, "node_modules/.bin/ducktape"), ["tests", "--cluster", "localhost:1"])
    expect(ducktape.code).toBe(2)
    expect(ducktape.out).not.toContain("Not a valid effect")
    expect(ducktape.out.trim().split("\n")).toHaveLength(1)
    expect(ducktape.out).toMatch(/needs `effect` \^3\.\d+\.\d+, and found 4\.\d+\.\d+/)
    expect(ducktape.out).toContain("npm install effect@3")
  }, 300_000)
})
