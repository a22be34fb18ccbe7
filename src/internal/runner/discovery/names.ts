/** Test files and their names: which files are test files, a file's module name, paths as messages show them. */
import * as NodePath from "node:path"

/** Test files found by walking; a file named explicitly may have any name. */
export const testFilePattern = /\.ducktape\.(?:ts|mts|js|mjs)$/
export const suiteFilePattern = /\.ya?ml$/
export const posix = (p: string) => p.split(NodePath.sep).join("/")

export const relative = (file: string, cwd: string) => {
  const r = posix(NodePath.relative(cwd, file))
  return r === "" ? "." : r
}

/** @internal */
export const isTestFileName = (name: string): boolean => testFilePattern.test(name)

/** @internal */
export const moduleName = (file: string, cwd: string = process.cwd()): string =>
  NodePath.relative(NodePath.resolve(cwd), NodePath.resolve(file))
    .split(NodePath.sep)
    // a file outside the working directory keeps its path below the common ancestor, not a run of dots
    .filter((s) => s !== ".." && s !== "" && s !== ".")
    .join("/")
    .replace(/\.ducktape\.(?:ts|mts|cts|js|mjs|cjs)$/, "")
    .replace(/\.(?:ts|mts|cts|tsx|js|mjs|cjs|jsx)$/, "")
    .split("/")
    .join(".")
