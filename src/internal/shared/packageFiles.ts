import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"

// The package's own files (templates/…) are found from this module's location by walking up to the package root:
// the code runs from src/ under tsx and from dist/ once built, and an install puts the package anywhere, so no
// fixed `../../` depth holds. The root is the nearest directory whose package.json names this package (a build
// may leave a `{ "type": "module" }` package.json inside dist/, which is not the root).

const packageName = "ducktape-effect"

const isRoot = (dir: string): boolean => {
  try {
    const json = JSON.parse(NodeFs.readFileSync(NodePath.join(dir, "package.json"), "utf8")) as { name?: unknown }
    return json.name === packageName
  } catch {
    return false
  }
}

let root: string | undefined

/** The directory holding the package's package.json, found once by walking up from this module. */
export const packageRoot = (): string => {
  if (root !== undefined) return root
  const start = NodePath.dirname(NodeUrl.fileURLToPath(import.meta.url))
  for (let dir = start; ; dir = NodePath.dirname(dir)) {
    if (isRoot(dir)) return (root = dir)
    if (NodePath.dirname(dir) === dir) {
      throw new Error(
        `cannot find the ${packageName} package root above ${start} (no package.json named "${packageName}"); ` +
          `reinstall the package: its package.json and templates/ must stay beside its code`
      )
    }
  }
}

/** The absolute path of a file shipped with the package, given relative to the package root. */
export const packageFile = (relative: string): string => NodePath.join(packageRoot(), ...relative.split("/"))

const cache = new Map<string, string>()

/** A shipped text file's content, read once per process; a missing file is an error naming it and the fix. */
export const readPackageFile = (relative: string): string => {
  const cached = cache.get(relative)
  if (cached !== undefined) return cached
  const path = packageFile(relative)
  let text: string
  try {
    text = NodeFs.readFileSync(path, "utf8")
  } catch (e) {
    throw new Error(
      `cannot read ${path}, a file the ${packageName} package ships (${(e as NodeJS.ErrnoException).code ?? String(e)}); ` +
        `reinstall the package: its templates/ folder is incomplete`
    )
  }
  cache.set(relative, text)
  return text
}
