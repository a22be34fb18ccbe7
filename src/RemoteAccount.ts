/**
 * The account of one cluster node: run commands, start and stop processes, move files, watch logs.
 *
 * A backend (ssh2, local processes) implements only the small `RemoteAccount.Backend` core; `make` derives
 * every convenience once, for all backends, so both behave the same way.
 *
 * @since 0.1.0
 */
import type { Duration, Option, Scope, Stream } from "effect"
import { Context, Effect, Schema } from "effect"
import { causeLine } from "./internal/shared/causeLine.js"
import * as internal from "./internal/remote/remoteAccount.js"
import type { LogMonitor, LogMonitorOptions } from "./LogMonitor.js"
import type { Command } from "./Shell.js"
import type { WaitTimeout } from "./Wait.js"
import { RemoteCommandError, RemoteCommandTimeout, ConnectionFailure, RemoteConnectionError, RemoteFileError } from "./internal/remote/errors.js"

export { RemoteCommandError, RemoteCommandTimeout, ConnectionFailure, RemoteConnectionError, RemoteFileError } from "./internal/remote/errors.js"

export type { Command } from "./Shell.js"

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

/**
 * Any failure a command can end with.
 *
 * @since 0.1.0
 * @category models
 */
export type CommandError = RemoteCommandError | RemoteCommandTimeout | RemoteConnectionError

// ---------------------------------------------------------------------------------------------------------
// The backend core
// ---------------------------------------------------------------------------------------------------------

/**
 * Who and where a node is.
 *
 * @since 0.1.0
 * @category models
 */
export interface Identity {
  /** The logical name of the node (`host` in a cluster file). */
  readonly hostname: string
  /** The address the backend connects to. */
  readonly sshHostname: string
  readonly user: string
  readonly port: number
  /** The address other nodes (and services' configs) use to reach this node. */
  readonly externallyRoutableIp: string
  readonly os: "linux"
  /** The node's own scratch directory: default cwd of commands and base of relative paths. */
  readonly workdir: string
}

/**
 * A running shell line as a backend sees it: byte streams and the exit status.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawProcess {
  readonly stdout: Stream.Stream<Uint8Array, RemoteConnectionError>
  readonly stderr: Stream.Stream<Uint8Array, RemoteConnectionError>
  /** Waits for the process to end; a death by signal N is 128 + N. */
  readonly exitCode: Effect.Effect<number, RemoteConnectionError>
}

/**
 * What a file is, as far as the framework cares.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileInfo {
  readonly type: "file" | "dir" | "link" | "other"
  readonly size: number
  readonly mode: number
}

/**
 * The small core each backend implements; everything else is derived by `make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Backend {
  readonly identity: Identity
  /**
   * Runs a shell line with `/bin/sh` semantics as the leader of a new session (so its pid is also its process
   * group). Stopping the command is the caller's business (done by `make`, whose lines print their pid first);
   * closing the scope releases the channel, and stops the group of a command still running then — its caller was
   * interrupted before it could (while the command started). stdin: bytes, or a stream of them piped in (a Node
   * Readable is one; a failing one ends the command rather than leave it waiting); closed after. (AsyncIterable, not
   * Readable: a project without @types/node can still type-check this file with skipLibCheck off.)
   */
  readonly exec: (line: string, stdin?: Uint8Array | AsyncIterable<Uint8Array>) => Effect.Effect<RawProcess, RemoteConnectionError, Scope.Scope>
  readonly upload: (localPath: string, remotePath: string) => Effect.Effect<void, RemoteFileError | RemoteConnectionError>
  readonly download: (remotePath: string, localPath: string) => Effect.Effect<void, RemoteFileError | RemoteConnectionError>
  readonly readFile: (path: string) => Effect.Effect<Uint8Array, RemoteFileError | RemoteConnectionError>
  readonly writeFile: (path: string, data: Uint8Array) => Effect.Effect<void, RemoteFileError | RemoteConnectionError>
  /** `follow: false` looks at a link itself (lstat). A missing path is `None`. */
  readonly stat: (path: string, follow: boolean) => Effect.Effect<Option.Option<FileInfo>, RemoteFileError | RemoteConnectionError>
  readonly readDir: (path: string) => Effect.Effect<ReadonlyArray<string>, RemoteFileError | RemoteConnectionError>
  /** Creates one directory; an existing directory is fine. */
  readonly mkdir: (path: string) => Effect.Effect<void, RemoteFileError | RemoteConnectionError>
  /** How many transfers the backend runs well at once (SFTP request pipelining, local disk). */
  readonly transferConcurrency: number
  /**
   * Copy directories as one tar stream through a command rather than file by file. Over ssh that is one channel
   * instead of several SFTP round trips per file (about 1.5× the files per second); a local disk gains nothing.
   * Where tar is missing on either end, directories still copy file by file.
   */
  readonly copiesTreesAsTar?: boolean
}

// ---------------------------------------------------------------------------------------------------------
// The account
// ---------------------------------------------------------------------------------------------------------

/**
 * Options shared by every command.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommandOptions {
  /** Working directory; relative paths resolve against the node's workdir (the default). */
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string>>
  /** Kill the command (its whole process group) and fail with `RemoteCommandTimeout` after this long. */
  readonly timeout?: Duration.DurationInput
  /** Send stderr into stdout, in order (`2>&1`). */
  readonly mergeStderr?: boolean
  /** Bytes or text written to the command's stdin, which is then closed. stdin is always closed otherwise. */
  readonly stdin?: string | Uint8Array
}

/**
 * What a finished command produced.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * A process started with `startProcess`: it lives until it exits or its scope closes (which kills it).
 *
 * @since 0.1.0
 * @category models
 */
export interface RemoteProcess {
  /** The remote pid; also the process group and session of everything the command starts. */
  readonly pid: number
  readonly command: string
  /**
   * Output as it arrives. Up to 2 MiB is held unread; past that the process waits until it is read, so a command
   * that writes much and whose output nobody reads should send it to a file (`> server.log`) or be drained.
   */
  readonly stdout: Stream.Stream<Uint8Array, RemoteConnectionError>
  /**
   * Error output as it arrives; it is buffered, so reading it is optional (unread, only the latest few MiB are
   * kept, so a long run cannot fill the driver's memory).
   */
  readonly stderr: Stream.Stream<Uint8Array, RemoteConnectionError>
  /** Waits for the exit status (128 + N for death by signal N). */
  readonly exitCode: Effect.Effect<number, RemoteConnectionError>
  /** The last few KiB of stderr seen so far. */
  readonly stderrTail: Effect.Effect<string>
  /** Signals the whole process group (default TERM). */
  readonly kill: (signal?: Signal) => Effect.Effect<void, CommandError>
}

/**
 * A signal name as `kill -s` takes it.
 *
 * @since 0.1.0
 * @category models
 */
export type Signal = "TERM" | "KILL" | "INT" | "HUP" | "STOP" | "CONT" | "QUIT" | "USR1" | "USR2"

/** The account of one node. */
/**
 * How to wait for an HTTP service (see RemoteAccount.waitForHttp).
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitForHttpOptions {
  /** Default `/`. */
  readonly path?: string
  /** Default 60 seconds. */
  readonly timeout?: Duration.DurationInput
  readonly headers?: Readonly<Record<string, string>>
}

export interface RemoteAccount extends Identity {
  readonly backend: Backend
  /** Starts a command as a scoped process; closing the scope kills its process group if it still runs. */
  readonly startProcess: (command: Command, options?: CommandOptions) => Effect.Effect<RemoteProcess, RemoteConnectionError, Scope.Scope>
  /** Runs a command to completion without failing on a non-zero exit. */
  readonly exec: (command: Command, options?: CommandOptions) => Effect.Effect<ExecResult, RemoteCommandTimeout | RemoteConnectionError>
  /** Runs a command; a non-zero exit fails with `RemoteCommandError`. */
  readonly ssh: (command: Command, options?: CommandOptions) => Effect.Effect<void, CommandError>
  /** Runs a command and returns its stdout; a non-zero exit fails. */
  readonly sshOutput: (command: Command, options?: CommandOptions) => Effect.Effect<string, CommandError>
  /**
   * The command's stdout as lines, as they arrive. The exit status is checked when the output ends;
   * interrupting the stream kills the remote process group.
   */
  readonly sshCapture: (command: Command, options?: CommandOptions) => Stream.Stream<string, CommandError>
  /**
   * Starts a long-running command detached from the connection (its own session, stdin from /dev/null, output
   * appended to `logFile` or discarded) and returns its pid, which is also its process group; `pidFile` is
   * written by the same remote command, so a `stopNode` reading it always finds the daemon. Stop it with
   * `killProcessGroup`. Interrupted while it starts, it stops the daemon again: nobody would learn its pid.
   * Prefer `startProcess` when the process should live exactly as long as a scope.
   */
  readonly spawnDaemon: (
    command: Command,
    options?: CommandOptions & { readonly logFile?: string; readonly pidFile?: string }
  ) => Effect.Effect<number, CommandError>
  /** Stops a process group: TERM, then KILL after `grace` (default 5 seconds) if anything of it is left. */
  readonly killProcessGroup: (pid: number, options?: { readonly grace?: Duration.DurationInput }) => Effect.Effect<void, CommandError>
  /** Pids of processes whose full command line matches the pattern (`pgrep -f`), excluding our own probe. */
  readonly pids: (pattern: string) => Effect.Effect<ReadonlyArray<number>, CommandError>
  readonly alive: (pid: number) => Effect.Effect<boolean, RemoteCommandTimeout | RemoteConnectionError>
  readonly signal: (pid: number, signal: Signal) => Effect.Effect<void, CommandError>
  /** Signals every process matching the pattern: TERM when `clean` (the default), KILL otherwise. */
  readonly killProcess: (pattern: string, options?: { readonly clean?: boolean }) => Effect.Effect<ReadonlyArray<number>, CommandError>
  readonly createFile: (path: string, contents: string | Uint8Array) => Effect.Effect<void, RemoteFileError | RemoteConnectionError>
  readonly readFile: (path: string) => Effect.Effect<string, RemoteFileError | RemoteConnectionError>
  /** Copies a local file or directory (recursively) to this node. */
  readonly copyTo: (localPath: string, remotePath: string) => Effect.Effect<void, RemoteFileError | RemoteConnectionError>
  /** Copies a file or directory (recursively) from this node; a missing path is an error. */
  readonly copyFrom: (remotePath: string, localPath: string) => Effect.Effect<void, RemoteFileError | RemoteConnectionError>
  /** Copies a file or directory from this node to another one. */
  readonly copyBetween: (remotePath: string, destination: RemoteAccount, destinationPath: string) => Effect.Effect<void, RemoteFileError | RemoteConnectionError>
  readonly mkdirs: (path: string) => Effect.Effect<void, CommandError>
  /** Removes a path recursively; a missing path fails unless `force`. */
  readonly remove: (path: string, options?: { readonly force?: boolean }) => Effect.Effect<void, CommandError>
  /** Whether the path exists (a dangling link counts: it does not follow links). */
  readonly exists: (path: string) => Effect.Effect<boolean, RemoteFileError | RemoteConnectionError>
  readonly isFile: (path: string) => Effect.Effect<boolean, RemoteFileError | RemoteConnectionError>
  readonly isDir: (path: string) => Effect.Effect<boolean, RemoteFileError | RemoteConnectionError>
  readonly isLink: (path: string) => Effect.Effect<boolean, RemoteFileError | RemoteConnectionError>
  /** Starts watching a file from its current end; see `LogMonitor`. */
  readonly monitorLog: (path: string, options?: LogMonitorOptions) => Effect.Effect<LogMonitor, CommandError>
  /**
   * Waits until an HTTP service on this node answers (a 2xx status) at `http://<externallyRoutableIp>:<port><path>`,
   * asked from the driver as a client of the service would (ducktape's wait_for_http_service). Each try may take 5
   * seconds; the WaitTimeout names the URL and what the last try got.
   */
  readonly waitForHttp: (port: number, options?: WaitForHttpOptions) => Effect.Effect<void, WaitTimeout>
  /** An absolute path for a path relative to the node's workdir. */
  readonly resolve: (path: string) => string
  /** `user@host`, for messages. */
  readonly label: string
}

/**
 * The account of the node the current effect runs on.
 *
 * @since 0.1.0
 * @category tags
 */
export const RemoteAccount: Context.Tag<RemoteAccount, RemoteAccount> = Context.GenericTag<RemoteAccount>(
  "ducktape-effect/RemoteAccount"
)

/**
 * Derives a full account from a backend core.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (backend: Backend) => RemoteAccount = internal.make

/**
 * Marks every process started by `effect` (through any account) with `DUCKTAPE_SESSION=<label>` in its
 * environment, so that `ducktape clean` can find what a crashed session left behind.
 *
 * @since 0.1.0
 * @category utils
 */
export const withSessionLabel: (label: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =
  (label) => (effect) => Effect.locally(effect, internal.currentLabel, label)

/**
 * The environment variable that carries the session label.
 *
 * @since 0.1.0
 * @category utils
 */
export const sessionLabelVariable: string = internal.labelVariable
