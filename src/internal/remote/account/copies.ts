/**
 * Copying files and directory trees between this machine and a node (and, staged here, between two nodes). A tree
 * goes as one tar stream where the backend prefers it and both ends have GNU tar, and file by file otherwise; which
 * one is asked once per account, at its first tree, and kept in its `Copier`.
 */
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Effect, Option } from "effect"
import type * as RA from "../../../RemoteAccount.js"
import type { RemoteConnectionError } from "../errors.js"
import { RemoteFileError } from "../errors.js"
import type { Commands } from "./commands.js"
import * as CommandLine from "./commandLine.js"
import * as TreeCopy from "./treeCopy.js"

/** One account's copying: its backend, its commands as tar needs them, and whether trees go as tar. */
export interface Copier {
  readonly backend: RA.Backend
  readonly tarRemote: TreeCopy.Remote
  readonly treesAsTar: Effect.Effect<boolean, RemoteConnectionError>
}

export const make = (backend: RA.Backend, commands: Pick<Commands, "exec" | "startProcess">): Copier => {
  const tarRemote: TreeCopy.Remote = { hostname: backend.identity.hostname, exec: commands.exec, startProcess: commands.startProcess }
  // Trees go as one tar stream where the backend prefers it and both ends have GNU tar (asked at the first tree).
  let tarUsable: boolean | undefined = backend.copiesTreesAsTar === true ? undefined : false
  const treesAsTar: Effect.Effect<boolean, RemoteConnectionError> = Effect.suspend(() =>
    tarUsable !== undefined ? Effect.succeed(tarUsable) : TreeCopy.usable(tarRemote).pipe(
      Effect.tap((ok) => ok ? Effect.void : Effect.logDebug("no GNU tar on one end: copying trees file by file")),
      Effect.tap((ok) => Effect.sync(() => (tarUsable = ok)))
    )
  )
  return { backend, tarRemote, treesAsTar }
}

/** `cause`: the local error it comes from, if any. */
const fileError = (copier: Copier, path: string, reason: string, cause?: unknown) =>
  new RemoteFileError({ host: copier.backend.identity.hostname, path, reason, ...(cause === undefined ? {} : { cause }) })

const viaTar = (
  copier: Copier,
  copy: Effect.Effect<void, RemoteFileError | RemoteConnectionError>,
  byFiles: Effect.Effect<void, RemoteFileError | RemoteConnectionError>
) => Effect.flatMap(copier.treesAsTar, (tar) => (tar ? copy : byFiles))

/** Whether a local path is a directory, following links. */
const localIsDir = (copier: Copier, localPath: string) =>
  Effect.tryPromise({
    try: () => NodeFs.stat(localPath).then((info) => info.isDirectory()),
    catch: (e) => fileError(copier, localPath, `local path ${localPath} does not exist`, e)
  })

/**
 * Copies a local file or tree whose kind may already be known from its directory listing (`undefined`: stat it,
 * following links). One stat fewer per file, and one span per call rather than per file: with many small files
 * that bookkeeping was a large part of the client's CPU.
 */
const copyPathTo = (
  copier: Copier,
  localPath: string,
  target: string,
  isDir: boolean | undefined
): Effect.Effect<void, RemoteFileError | RemoteConnectionError> =>
  Effect.flatMap(
    isDir !== undefined ? Effect.succeed(isDir) : localIsDir(copier, localPath),
    (dir) => (dir ? copyTreeByFilesTo(copier, localPath, target) : copier.backend.upload(localPath, target))
  )

const copyTreeByFilesTo = (copier: Copier, localPath: string, target: string) =>
  Effect.zipRight(
    copier.backend.mkdir(target),
    Effect.flatMap(Effect.promise(() => NodeFs.readdir(localPath, { withFileTypes: true })), (entries) =>
      Effect.forEach(
        entries,
        (e) =>
          copyPathTo(
            copier,
            NodePath.join(localPath, e.name),
            NodePath.posix.join(target, e.name),
            // A link (or anything else) is stat'ed, so a link to a directory is copied as one.
            e.isDirectory() ? true : e.isFile() ? false : undefined
          ),
        { concurrency: copier.backend.transferConcurrency, discard: true }
      ))
  )

/** `RemoteAccount.copyTo`. */
export const copyTo = (copier: Copier, localPath: string, remotePath: string): Effect.Effect<void, RemoteFileError | RemoteConnectionError> =>
  Effect.gen(function*() {
    const target = CommandLine.resolve(copier.backend.identity, remotePath)
    if (!(yield* localIsDir(copier, localPath))) return yield* copier.backend.upload(localPath, target)
    yield* viaTar(copier, TreeCopy.send(copier.tarRemote, localPath, target), copyTreeByFilesTo(copier, localPath, target))
  }).pipe(
    Effect.withSpan("RemoteAccount.copyTo", { attributes: { host: copier.backend.identity.hostname, path: remotePath } })
  )

/** A remote path's stat, following links; a missing path is a RemoteFileError. */
const statExisting = (copier: Copier, source: string) =>
  Effect.flatMap(copier.backend.stat(source, true), Option.match({
    onNone: () => Effect.fail(fileError(copier, source, "no such file or directory")),
    onSome: Effect.succeed
  }))

/** Copies a remote file or tree whose stat is already known, file by file. */
const copyStatedFrom = (
  copier: Copier,
  source: string,
  info: RA.FileInfo,
  localPath: string
): Effect.Effect<void, RemoteFileError | RemoteConnectionError> =>
  Effect.gen(function*() {
    if (info.type === "dir") {
      yield* Effect.promise(() => NodeFs.mkdir(localPath, { recursive: true }))
      const entries = yield* copier.backend.readDir(source)
      yield* Effect.forEach(
        entries,
        (e) => copyPathFrom(copier, NodePath.posix.join(source, e), NodePath.join(localPath, e)),
        { concurrency: copier.backend.transferConcurrency, discard: true }
      )
    } else {
      yield* Effect.promise(() => NodeFs.mkdir(NodePath.dirname(localPath), { recursive: true }))
      yield* copier.backend.download(source, localPath)
      // The mode travels with the file, as it does on the way up (SFTP downloads create files 0666 & ~umask).
      yield* Effect.tryPromise({ try: () => NodeFs.chmod(localPath, info.mode), catch: (e) => fileError(copier, localPath, `cannot set mode of local ${localPath}`, e) })
    }
  })

const copyPathFrom = (copier: Copier, source: string, localPath: string): Effect.Effect<void, RemoteFileError | RemoteConnectionError> =>
  Effect.flatMap(statExisting(copier, source), (info) => copyStatedFrom(copier, source, info, localPath))

/** `RemoteAccount.copyFrom`. */
export const copyFrom = (copier: Copier, remotePath: string, localPath: string): Effect.Effect<void, RemoteFileError | RemoteConnectionError> =>
  Effect.gen(function*() {
    const source = CommandLine.resolve(copier.backend.identity, remotePath)
    const info = yield* statExisting(copier, source)
    const byFiles = copyStatedFrom(copier, source, info, localPath)
    yield* info.type === "dir" ? viaTar(copier, TreeCopy.receive(copier.tarRemote, source, localPath), byFiles) : byFiles
  }).pipe(
    Effect.withSpan("RemoteAccount.copyFrom", { attributes: { host: copier.backend.identity.hostname, path: remotePath } })
  )

/** `RemoteAccount.copyBetween`: staged in a local temporary directory. */
export const copyBetween = (copier: Copier, remotePath: string, destination: RA.RemoteAccount, destinationPath: string) =>
  Effect.acquireUseRelease(
    Effect.promise(() => NodeFs.mkdtemp(NodePath.join(NodeOs.tmpdir(), "ducktape-copy-"))),
    (dir) => {
      const staged = NodePath.join(dir, "item")
      return Effect.zipRight(copyFrom(copier, remotePath, staged), destination.copyTo(staged, destinationPath))
    },
    (dir) => Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true }))
  )
