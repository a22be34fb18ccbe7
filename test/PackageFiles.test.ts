import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { packageFile, packageRoot, readPackageFile } from "../src/internal/shared/packageFiles.js"

const repo = NodePath.resolve(NodePath.dirname(NodeUrl.fileURLToPath(import.meta.url)), "..")
const tmp = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `package-files-test-${process.pid}-`))
afterAll(() => NodeFs.rmSync(tmp, { recursive: true, force: true }))

/** The helper's own source, copied to `dir` as a build would move it, then imported from there. */
const copyTo = async (dir: string) => {
  NodeFs.mkdirSync(dir, { recursive: true })
  NodeFs.copyFileSync(NodePath.join(repo, "src/internal/shared/packageFiles.ts"), NodePath.join(dir, "packageFiles.ts"))
  return (await import(NodeUrl.pathToFileURL(NodePath.join(dir, "packageFiles.ts")).href)) as typeof import("../src/internal/shared/packageFiles.js")
}

describe("packageFiles", () => {
  it("finds the package's own templates from src/", () => {
    expect(packageRoot()).toBe(repo)
    expect(packageFile("templates/report/report.js")).toBe(NodePath.join(repo, "templates", "report", "report.js"))
    expect(readPackageFile("templates/report/report.js")).toContain("@ts-check")
  })

  it("finds the root from any depth of a build folder, past a dist/package.json that is not the package's", async () => {
    const pkg = NodePath.join(tmp, "installed", "node_modules", "ducktape-effect")
    NodeFs.mkdirSync(NodePath.join(pkg, "templates"), { recursive: true })
    NodeFs.writeFileSync(NodePath.join(pkg, "package.json"), JSON.stringify({ name: "ducktape-effect", type: "module" }))
    NodeFs.writeFileSync(NodePath.join(pkg, "templates", "x.txt"), "shipped")
    NodeFs.mkdirSync(NodePath.join(pkg, "dist"), { recursive: true })
    NodeFs.writeFileSync(NodePath.join(pkg, "dist", "package.json"), JSON.stringify({ type: "module" }))
    const moved = await copyTo(NodePath.join(pkg, "dist", "esm", "internal"))
    expect(moved.packageRoot()).toBe(pkg)
    expect(moved.readPackageFile("templates/x.txt")).toBe("shipped")
  })

  it("says which file is missing and how to fix it, instead of a bare ENOENT", async () => {
    const pkg = NodePath.join(tmp, "broken")
    NodeFs.mkdirSync(pkg, { recursive: true })
    NodeFs.writeFileSync(NodePath.join(pkg, "package.json"), JSON.stringify({ name: "ducktape-effect" }))
    const moved = await copyTo(NodePath.join(pkg, "dist"))
    expect(() => moved.readPackageFile("templates/report/report.js")).toThrow(
      /cannot read .*broken\/templates\/report\/report\.js.*ENOENT.*reinstall the package/
    )
  })

  it("ships templates/ in the npm tarball", () => {
    const run = ChildProcess.spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: repo, encoding: "utf8" })
    expect(run.status).toBe(0)
    const files = (JSON.parse(run.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path)
    expect(files).toEqual(expect.arrayContaining([
      "templates/report/report.html.mustache",
      "templates/report/report.css",
      "templates/report/report.js"
    ]))
  })
})
