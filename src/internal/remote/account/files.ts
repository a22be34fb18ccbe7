/**
 * Single files and paths on a node: write, read, make, remove, and ask what a path is. Contents and stats go
 * through the backend's file core (SFTP, local fs); making and removing directories are shell commands.
 * Relative paths resolve against the node's workdir.
 */
import { Effect, Option } from "effect"
import type * as RA from "../../../RemoteAccount.js"
import type { Commands } from "./commands.js"
import * as CommandLine from "./commandLine.js"
import { decode, encoder } from "../bytes.js"

/** The file operations of an account over `backend`. */
export const make = (
  backend: RA.Backend,
  commands: Pick<Commands, "ssh">
): Pick<RA.RemoteAccount, "createFile" | "readFile" | "mkdirs" | "remove" | "exists" | "isFile" | "isDir" | "isLink"> => {
  const resolve = (path: string) => CommandLine.resolve(backend.identity, path)
  const statOf = (path: string, follow: boolean) => backend.stat(resolve(path), follow)
  return {
    createFile: (path, contents) =>
      backend.writeFile(resolve(path), typeof contents === "string" ? encoder.encode(contents) : contents),
    readFile: (path) => Effect.map(backend.readFile(resolve(path)), decode),
    // From `/`: commands start in the workdir, which may be the very directory being made (or removed).
    mkdirs: (path) => commands.ssh(["mkdir", "-p", "--", resolve(path)], { cwd: "/" }),
    remove: (path, options = {}) => commands.ssh(["rm", options.force === true ? "-rf" : "-r", "--", resolve(path)], { cwd: "/" }),
    exists: (path) => Effect.map(statOf(path, false), Option.isSome),
    isFile: (path) => Effect.map(statOf(path, true), (i) => Option.isSome(i) && i.value.type === "file"),
    isDir: (path) => Effect.map(statOf(path, true), (i) => Option.isSome(i) && i.value.type === "dir"),
    isLink: (path) => Effect.map(statOf(path, false), (i) => Option.isSome(i) && i.value.type === "link")
  }
}
