import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { describe, expect, it } from "vitest"

const repo = NodePath.resolve(NodePath.dirname(NodeUrl.fileURLToPath(import.meta.url)), "..")
const readme = NodeFs.readFileSync(NodePath.join(repo, "README.md"), "utf8")

/** Every fenced TypeScript block, with the source file named in the comment just above it. */
const tsBlocks = [...readme.matchAll(/(?:<!-- source: (\S+) -->\n)?```ts\n([\s\S]*?)```/g)].map((m) => ({
  source: m[1],
  code: m[2]!
}))

describe("README", () => {
  it("takes every TypeScript block verbatim from a file that runs in CI", () => {
    expect(tsBlocks.length).toBeGreaterThan(1)
    for (const block of tsBlocks) {
      expect(block.source, `a block has no <!-- source: … --> marker:\n${block.code.slice(0, 200)}`).toBeDefined()
      const text = NodeFs.readFileSync(NodePath.join(repo, block.source!), "utf8")
      expect(text.includes(block.code), `block not found verbatim in ${block.source}:\n${block.code.slice(0, 300)}`).toBe(true)
    }
  })

  it("states the two set-up commands, and they exist", () => {
    expect(readme).toContain("npm ci && npm run examples")
    expect(readme).toContain("npm ci && npm test")
    const pkg = JSON.parse(NodeFs.readFileSync(NodePath.join(repo, "package.json"), "utf8"))
    expect(pkg.scripts.examples).toBeDefined()
    // What is tested is what ships: the tests run after a build.
    expect(pkg.scripts.test).toBe("node bin/build.js && vitest run")
    expect(NodeFs.readFileSync(NodePath.join(repo, ".ci/run"), "utf8")).toMatch(/^npm test$/m)
  })

  it("documents every flag `ducktape --help` lists, and no flag it does not have", () => {
    // Each command's --help lists its own flags.
    const help = [[], ["lab", "up"], ["lab", "down"], ["docker", "up"], ["docker", "down"], ["clean"], ["report", "merge"]].map((command) =>
      ChildProcess.execFileSync(process.execPath, [NodePath.join(repo, "bin/ducktape.js"), ...command, "--help"], {
        cwd: repo,
        encoding: "utf8"
      })
    ).join("\n")
    const flags = (text: string) => new Set([...text.matchAll(/--[a-z][a-z-]+/g)].map((m) => m[0]))
    const reference = readme.slice(readme.indexOf("### Command line"), readme.indexOf("### Cluster file"))
    const inHelp = flags(help)
    const inReadme = flags(reference)
    for (const f of inHelp) if (!["--completions", "--log-level", "--wizard"].includes(f)) expect(inReadme, `README lacks ${f}`).toContain(f)
    for (const f of inReadme) expect(inHelp, `README documents ${f}, which --help does not list`).toContain(f)
  }, 60_000)
})
