/**
 * The framework's own small files — a lab's state, a private sshd's config and keys, a session's directory — go
 * through @effect/platform's FileSystem. It is provided here, backed by Node's, so that starting a lab or an sshd
 * asks the user for no platform layer. Hot paths (SFTP, local tree copies, results.jsonl appends, the atomic
 * report writes that fsync) stay on node:fs, where they were measured or need calls FileSystem does not have.
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect } from "effect"

/** Runs `use` with Node's FileSystem. */
export const withFiles = <A, E>(use: (fs: FileSystem.FileSystem) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.provide(Effect.flatMap(FileSystem.FileSystem, use), NodeFileSystem.layer)

/** What a file error says, as Node says it ("EACCES: permission denied, mkdir '/x'"), without FileSystem's method names. */
export const filesErrorText = (e: PlatformError): string =>
  e._tag === "SystemError" && e.description !== undefined ? e.description : e.message
