import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"

/** The framework's version (from package.json). */
export const version: string = (() => {
  try {
    const pkg = JSON.parse(NodeFs.readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version?: string }
    return pkg.version ?? "0.0.0"
  } catch {
    return "0.0.0"
  }
})()

/** The bundled example suite. */
export const examplesDir: string = NodePath.resolve(NodePath.dirname(NodeUrl.fileURLToPath(import.meta.url)), "../../../examples")
