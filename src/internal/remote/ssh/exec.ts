/**
 * Commands over SSH channels: a channel per command, taken from the pool (pool.ts), opened again when sshd
 * refuses it, released only once sshd freed its session. Without a pty a remote command outlives its channel and
 * its connection, so this module also stops what nobody else can reach any more: a command whose caller was
 * interrupted before it saw the process (an orphan), and the commands of a connection that dropped (lost ones).
 */
import * as NodeOs from "node:os"
import * as NodeStream from "node:stream"
import type { Scope } from "effect"
import { Data, Deferred, Duration, Effect, Exit, Fiber, FiberId, Option, Runtime } from "effect"
import type { ClientChannel } from "ssh2"
import type * as RemoteAccount from "../../../RemoteAccount.js"
import type { RemoteConnectionError } from "../errors.js"
import { pidLinePrefix, pidOfLine } from "../pid.js"
import * as ReadableStream from "../readableStream.js"
import type { ConnectionErrorOf } from "./connect.js"
import { ChannelRefused, channelOpenRetry, type Pool, type Slot, type Tracked } from "./pool.js"
import * as Release from "../../shared/release.js"
import { errorText } from "../../shared/errorText.js"

/** How long closing one channel may take in a release. */
const channelCloseTimeout = Duration.seconds(2)
/**
 * A command still running when its channel is released (see stopOrphan): how long the backend waits for its pid
 * line, gives a KILL just sent to show, and spends on the whole stop (TERM before KILL: Release.killGrace).
 */
const orphanPidWait = Duration.seconds(5)
const orphanSettle = Duration.millis(300)
const orphanStopTimeout = Duration.seconds(10)

const signalNumbers = NodeOs.constants.signals as Record<string, number>

/** The connection was gone before the channel opened: the command never ran, so reconnecting is safe. */
class NotConnected extends Data.TaggedError("NotConnected")<{ readonly detail: string }> {}

/** A channel whose command runs: how it ends, its output, and the pid its first line reported. */
interface Opened {
  readonly channel: ClientChannel
  readonly closed: Deferred.Deferred<number, RemoteConnectionError>
  /** The command ended (its exit status came), or the channel closed. */
  readonly exited: Deferred.Deferred<void>
  readonly stdout: ReadableStream.Pump<RemoteConnectionError>
  readonly stderr: ReadableStream.Pump<RemoteConnectionError>
  readonly pid: Deferred.Deferred<number | undefined>
}

/** Runs a command to its end, its exit status ignored: how the backend stops orphans and lost commands. */
type RunQuietly = (line: string) => Effect.Effect<void>

/** The commands of an account: `exec` for the backend, and the stop of lost commands for the pool. */
export interface Commands {
  readonly exec: RemoteAccount.Backend["exec"]
  /** Stops the commands of `pool.lost`; the pool forks it once a connection is back. */
  readonly stopLost: Effect.Effect<void>
}

/**
 * Runs commands on the pool's connections. Closing the scope waits (briefly) for the stops of abandoned channels
 * still under way; it must close before the pool's, which closes the connections those stops run on.
 */
export const make = (pool: Pool, hostname: string, connectionError: ConnectionErrorOf): Effect.Effect<Commands, never, Scope.Scope> =>
  Effect.gen(function*() {
    /** Stops of abandoned channels still under way: the account waits for them before it closes its connections. */
    const stopping = new Set<Fiber.RuntimeFiber<void>>()
    // ssh2 reports an abandoned channel in a callback, outside any fiber: its stop is forked on the account's own
    // runtime (its logger, tracer and services), not a default one.
    const runtime = yield* Effect.runtime<never>()
    yield* Effect.addFinalizer(() =>
      Release.bounded(Effect.forEach([...stopping], Fiber.await, { discard: true }), orphanStopTimeout, () => "gave up").pipe(Effect.ignore)
    )

    /** A command run to its end by the backend itself (stopping an orphan), its exit status ignored. */
    const runQuietly: RunQuietly = (line) => Effect.scoped(Effect.flatMap(exec(line), (raw) => raw.exitCode)).pipe(Effect.ignore)

    const exec: RemoteAccount.Backend["exec"] = (line, stdin) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(pool.takePermit), () => {
          // The permits guarantee a slot with room; which one is decided now, synchronously.
          const slot = pool.claim()
          let open: Opened | undefined
          // The caller learns of the command only when this returns, and may be interrupted first: a command still
          // running at release without its caller having stopped it (its own release runs before this one) is an
          // orphan. The slot is given back only once sshd has freed its session.
          const release = Effect.suspend(() =>
            open === undefined ? Effect.void : Effect.zipRight(
              Effect.flatMap(Deferred.isDone(open.exited), (done) => (done ? Effect.void : stopOrphan(open!, line, runQuietly))),
              releaseChannel(open.channel, open.closed)
            )
          ).pipe(
            Effect.ensuring(pool.giveBack(slot))
          )
          const onOpen = (channel: ClientChannel, abandoned: boolean) => {
            const o = opened(channel, line, slot, connectionError)
            // Abandoned: the release has run already; this channel is nobody's but ours.
            if (abandoned) {
              const fiber = Runtime.runFork(runtime)(Effect.zipRight(stopOrphan(o, line, runQuietly), releaseChannel(o.channel, o.closed)))
              stopping.add(fiber)
              fiber.addObserver(() => stopping.delete(fiber))
            }
            else open = o
          }
          return Effect.zipRight(
            Effect.addFinalizer(() => release),
            Effect.map(restore(openChannel(pool, slot, line, onOpen, connectionError)), (ch) => {
              const { stderr, stdout } = open!
              // Without input, EOF alone: ending the Writable too would make ssh2's own end-on-destroy build a
              // Node error (with its stack trace) for every command.
              if (stdin === undefined) ch.eof()
              else if (stdin instanceof Uint8Array) ch.end(Buffer.from(stdin))
              // EOF when the readable ends; if it fails, the channel closes: the command must not wait for more.
              else NodeStream.pipeline(stdin, ch, (e) => e && ch.close())
              return ReadableStream.collectable<RemoteAccount.RawProcess, RemoteConnectionError>(
                { stdout: stdout.stream, stderr: stderr.stream, exitCode: Deferred.await(open!.closed) },
                stdout,
                stderr
              )
            })
          )
        })
      )

    return { exec, stopLost: stopLost(pool.lost, hostname, runQuietly) }
  })

// ---------------------------------------------------------------------------------------------------------
// Channels
// ---------------------------------------------------------------------------------------------------------

/**
 * Opens a channel running `line`. `onOpen` sees every channel that opens, even one whose caller was interrupted
 * meanwhile (`abandoned`): its command has started, and someone must stop it.
 */
const execOnce = (
  pool: Pool,
  slot: Slot,
  line: string,
  onOpen: (channel: ClientChannel, abandoned: boolean) => void,
  connectionError: ConnectionErrorOf
) =>
  Effect.flatMap(pool.clientOf(slot), (client) =>
    Effect.async<ClientChannel, ChannelRefused | NotConnected | RemoteConnectionError>((resume) => {
      let abandoned = false
      try {
        client.exec(line, (err, channel) => {
          if (err === undefined) onOpen(channel, abandoned)
          if (abandoned) return
          if (err === undefined) return resume(Effect.succeed(channel))
          const message = errorText(err)
          if (message.includes("Channel open failure")) {
            resume(Effect.fail(new ChannelRefused({ detail: message })))
          } else if (message === "No response from server") {
            pool.forget(slot, client)
            resume(Effect.fail(new NotConnected({ detail: message })))
          } else {
            resume(Effect.fail(connectionError("closed", `cannot run a command: ${message}`, err)))
          }
        })
      } catch (e) {
        // "Not connected": the socket died and the close event is still on its way.
        pool.forget(slot, client)
        resume(Effect.fail(new NotConnected({ detail: errorText(e) })))
      }
      return Effect.sync(() => {
        abandoned = true
      })
    }))

const retriable = (e: ChannelRefused | NotConnected | RemoteConnectionError) =>
  e._tag === "ChannelRefused" || e._tag === "NotConnected"

const openChannel = (
  pool: Pool,
  slot: Slot,
  line: string,
  onOpen: (channel: ClientChannel, abandoned: boolean) => void,
  connectionError: ConnectionErrorOf
) => {
  const once = execOnce(pool, slot, line, onOpen, connectionError)
  return once.pipe(
    // The retry is set up only after a failure: most opens succeed at once, and every microsecond counts here.
    Effect.catchAll((e) => (retriable(e) ? Effect.retry(once, { schedule: channelOpenRetry, while: retriable }) : Effect.fail(e))),
    Effect.catchTags({
      ChannelRefused: (e) => Effect.fail(connectionError("other", `the server keeps refusing channels: ${e.detail}`)),
      NotConnected: (e) => Effect.fail(connectionError("closed", e.detail))
    })
  )
}

/** Closes a channel and waits (briefly) for the server to confirm, so that its session slot is free again. */
const releaseChannel = (channel: ClientChannel, closed: Deferred.Deferred<number, RemoteConnectionError>) =>
  Effect.flatMap(Deferred.isDone(closed), (done) => {
    if (done) return Effect.void
    // Unread output would keep ssh2 from emitting "close": drop it.
    channel.resume()
    channel.stderr.resume()
    channel.close()
    // Bounded even here, in a release (where a plain timeout would wait): a channel whose output something
    // the command started still holds stays open.
    return Release.bounded(Deferred.await(closed), channelCloseTimeout, () => "still open").pipe(Effect.ignore)
  })

/** Resolves `closed` with the exit status once the server closed the channel, so that all output is in. */
const watch = (channel: ClientChannel, closed: Deferred.Deferred<number, RemoteConnectionError>, connectionError: ConnectionErrorOf) => {
  channel.on("error", () => {})
  channel.stderr.on("error", () => {})
  channel.once("close", (code: number | null | undefined, signal?: string) => {
    Deferred.unsafeDone(
      closed,
      typeof code === "number"
        ? Exit.succeed(code)
        : typeof signal === "string"
        ? Exit.succeed(128 + (signalNumbers[signal] ?? 0))
        : Exit.fail(connectionError("closed", "the connection dropped while the command ran"))
    )
  })
}

/** A channel as soon as it opened: its exit watched, its output read eagerly, its pid line (if any) noted. */
const opened = (channel: ClientChannel, line: string, slot: Slot, connectionError: ConnectionErrorOf): Opened => {
  const closed = Deferred.unsafeMake<number, RemoteConnectionError>(FiberId.none)
  watch(channel, closed, connectionError)
  // Tracked until it reports an exit: should the connection drop first, it is stopped once one is back.
  const tracked: Tracked = { pid: undefined, openedAt: Date.now(), closedAt: undefined }
  slot.running.add(tracked)
  channel.once("exit", () => slot.running.delete(tracked))
  channel.once("close", (code: unknown, signal: unknown) => {
    if (typeof code === "number" || typeof signal === "string") slot.running.delete(tracked)
    else tracked.closedAt = Date.now()
  })
  const exited = Deferred.unsafeMake<void>(FiberId.none)
  // "exit" comes with the command's exit status, "close" once its output is closed too (or the connection died).
  channel.once("exit", () => Deferred.unsafeDone(exited, Exit.void))
  channel.once("close", () => Deferred.unsafeDone(exited, Exit.void))
  const lost = (e: unknown) => connectionError("closed", errorText(e), e)
  const stdout = ReadableStream.pump(channel, lost)
  const stderr = ReadableStream.pump(channel.stderr, lost)
  const pid = Deferred.unsafeMake<number | undefined>(FiberId.none)
  if (line.startsWith(pidLinePrefix)) {
    // A listener of its own: the pid line must be found even after the caller took it from `stdout`.
    let head: Buffer = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk])
      const newline = head.indexOf(10)
      if (newline < 0 && head.length < 32) return
      channel.removeListener("data", onData)
      tracked.pid = newline < 0 ? undefined : pidOfLine(head.subarray(0, newline).toString("latin1"))
      Deferred.unsafeDone(pid, Exit.succeed(tracked.pid))
    }
    channel.on("data", onData)
    channel.once("close", () => Deferred.unsafeDone(pid, Exit.succeed(undefined)))
  } else {
    Deferred.unsafeDone(pid, Exit.succeed(undefined))
  }
  return { channel, closed, exited, stdout, stderr, pid }
}

// ---------------------------------------------------------------------------------------------------------
// Commands nobody else can stop
// ---------------------------------------------------------------------------------------------------------

/**
 * Stops the commands of lost connections, by process group, TERM then KILL. A pid is signalled only while it
 * still leads its own session (as every command here does) and the host has been up longer than the command
 * ran: after a reboot, the same pid is someone else.
 */
const stopLost = (lostCommands: Array<Tracked>, hostname: string, runQuietly: RunQuietly): Effect.Effect<void> =>
  Effect.suspend(() => {
    const now = Date.now()
    const entries = lostCommands.splice(0).flatMap((t) =>
      t.pid === undefined ? [] : [`${t.pid}:${Math.max(0, Math.floor((now - t.openedAt) / 1000) - 1)}`])
    if (entries.length === 0) return Effect.void
    const ours = `up=$(cut -d. -f1 /proc/uptime); for e in ${entries.join(" ")}; do p=\${e%%:*}; [ "$up" -ge "\${e#*:}" ] || continue; ` +
      `s=$(cat /proc/$p/stat 2>/dev/null) || continue; s=\${s##*) }; set -- $s; [ "$4" = "$p" ] && echo "$p"; done`
    return Effect.zipRight(
      Effect.logDebug(`stopping ${entries.length} command(s) whose connection to ${hostname} was lost`),
      runQuietly(`g=$(${ours}); [ -n "$g" ] || exit 0; for p in $g; do kill -s TERM -- -$p; done 2>/dev/null; ` +
        `sleep ${Duration.toSeconds(Release.killGrace) > 1 ? 1 : Duration.toSeconds(Release.killGrace)}; for p in $g; do kill -s KILL -- -$p; done 2>/dev/null; true`)
    )
  }).pipe((stop) => Release.bounded(stop, orphanStopTimeout, () => "gave up"), Effect.ignore)

/**
 * Stops a command still running when its channel is released: its caller did not stop it — interrupted before
 * it saw the process (while the channel opened, or just after), or its own stop failed. A command without a pty
 * outlives its channel, so its process group is signalled by the pid its first line reported, TERM then KILL.
 */
const stopOrphan = (opened: Opened, line: string, runQuietly: RunQuietly) =>
  Effect.gen(function*() {
    // A caller that just sent KILL did not wait for the exit: it is on its way.
    if (Option.isSome(yield* Effect.option(Effect.timeout(Deferred.await(opened.exited), orphanSettle)))) return
    const pid = yield* Deferred.await(opened.pid).pipe(Effect.timeout(orphanPidWait), Effect.orElseSucceed(() => undefined))
    if (pid === undefined || (yield* Deferred.isDone(opened.exited))) return
    yield* Effect.logDebug(`stopping process group ${pid} of ${JSON.stringify(line)}: still running when its channel was released`)
    yield* Release.termThenKill({
      term: runQuietly(`kill -s TERM -- -${pid}`),
      kill: runQuietly(`kill -s KILL -- -${pid}`),
      ended: Deferred.await(opened.exited),
      grace: Release.killGrace
    })
  }).pipe((stop) => Release.bounded(stop, orphanStopTimeout, () => "gave up"), Effect.ignore)
