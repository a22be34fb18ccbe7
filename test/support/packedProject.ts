/**
 * The package as a user installs it: `npm pack` of this checkout into a directory, and fresh `npm init -y` projects
 * there (npm writes "type": "commonjs" in them) to install it into.
 */
import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"

export const repo = NodePath.resolve(import.meta.dirname, "../..")

export interface Ran {
  readonly code: number
  readonly out: string
}

/** Runs a command to its end (no shell), with its stdout and stderr together. */
export const run = (cwd: string, command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (b: Buffer) => (out += b.toString()))
    child.stderr.on("data", (b: Buffer) => (out += b.toString()))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code: code ?? 1, out }))
  })

/** npm, quietly and preferring its cache (CI's `npm ci` filled it with the versions this repo uses). */
export const npm = (cwd: string, ...args: ReadonlyArray<string>) =>
  run(cwd, "npm", [...args, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"])

/** Packs this checkout into `dir` as it is (`npm test` has just built dist/: no prepare, no change to the tree). */
export const pack = async (dir: string): Promise<{ readonly tarball: string; readonly files: ReadonlyArray<string> }> => {
  const packed = await run(repo, "npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir])
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.out}`)
  const [info] = JSON.parse(packed.out.slice(packed.out.indexOf("["))) as Array<{ filename: string; files: Array<{ path: string }> }>
  return { tarball: NodePath.join(dir, info!.filename), files: info!.files.map((f) => f.path) }
}

/** A new `npm init -y` project in `<work>/<name>`. */
export const freshProject = async (work: string, name: string): Promise<string> => {
  const dir = NodePath.join(work, name)
  NodeFs.mkdirSync(dir)
  const init = await npm(dir, "init", "-y")
  if (init.code !== 0) throw new Error(`npm init -y failed:\n${init.out}`)
  return dir
}

/** Writes a file of the project, making its directories. */
export const write = (dir: string, file: string, text: string) => {
  NodeFs.mkdirSync(NodePath.dirname(NodePath.join(dir, file)), { recursive: true })
  NodeFs.writeFileSync(NodePath.join(dir, file), text)
}
