/** Finding programs: the first executable file of a name in a list of directories. */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"

/** The directories of a PATH value (this process's by default). */
export const pathDirectories = (path: string = process.env["PATH"] ?? ""): ReadonlyArray<string> => path.split(":").filter((d) => d !== "")

/** The first `<dir>/<name>` that this process may execute, if any. */
export const findExecutable = (name: string, directories: ReadonlyArray<string>): string | undefined => {
  for (const dir of directories) {
    const candidate = NodePath.join(dir, name)
    try {
      NodeFs.accessSync(candidate, NodeFs.constants.X_OK)
      if (NodeFs.statSync(candidate).isFile()) return candidate
    } catch {
      // Not here: the next directory.
    }
  }
  return undefined
}
