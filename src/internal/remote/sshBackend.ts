import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodeStream from "node:stream"
import type { Scope } from "effect"
import { Data, Deferred, Duration, Effect, Exit, Fiber, FiberId, Option, Runtime, Schedule, Stream } from "effect"
import ssh2 from "ssh2"
import type { Client, ClientChannel, SFTPWrapper } from "ssh2"
import * as RemoteAccount from "../../RemoteAccount.js"
import { RemoteConnectionError, RemoteFileError } from "./errors.js"
import type * as SA from "../../SshAccount.js"
import { pidLinePrefix, pidOfLine } from "./pid.js"
import * as ReadableStream from "./readableStream.js"
import * as SshConnect from "./sshConnect.js"
import type { SshError } from "./sshConnect.js"
import * as Release from "../shared/release.js"
import { errorText } from "../shared/errorText.js"

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

// ---------------------------------------------------------------------------------------------------------
// Tunables
// ---------------------------------------------------------------------------------------------------------

/**
 * Re-opening a connection that was up before (sshd restarted, host rebooted): quick at first, at most a second
 * apart, for up to 15 seconds. A first connection is never retried: a wrong port or key should fail at once.
 */
const reconnectSchedule = Schedule.exponential("50 millis", 2).pipe(
  Schedule.union(Schedule.spaced("1 second")),
  Schedule.upTo("15 seconds")
)
/**
 * sshd refuses a channel ("open failed") when MaxSessions are busy, and a session slot frees a little after its
 * channel closes: retry briefly with jitter so that parallel retries spread out.
 */
const channelOpenRetry = Schedule.exponential("2 millis", 2).pipe(
  Schedule.union(Schedule.spaced("100 millis")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(40))
)
/**
 * When every channel has been busy this long, long-lived channels (started processes, log tails) are the likely
 * holders, and waiting for one to end could wait forever: another connection is opened instead.
 */
const growAfter = Duration.seconds(1)
/** The most connections an account grows to, whatever `maxConnections` says (sshd runs a process per connection). */
const connectionCeiling = 64
/** How long closing one channel, or all connections, may take in a release. */
const channelCloseTimeout = Duration.seconds(2)
const connectionCloseTimeout = Duration.seconds(3)
/**
 * A command still running when its channel is released (see stopOrphan): how long the backend waits for its pid
 * line, gives a KILL just sent to show, and spends on the whole stop (TERM before KILL: Release.killGrace).
 */
const orphanPidWait = Duration.seconds(5)
const orphanSettle = Duration.millis(300)
const orphanStopTimeout = Duration.seconds(10)
/** A channel that closed without an exit status this shortly before its connection dropped was lost with it. */
const lostCloseWindow = 5_000
const defaultConnectTimeout = Duration.seconds(10)
const defaultKeepalive = Duration.seconds(5)
/** SFTP requests in flight per big transfer, and their size: ~500 MiB/s on loopback (FIELD-NOTES). */
const transferOptions = { concurrency: 64, chunkSize: 128 * 1024 }
/**
 * Files up to this size are uploaded from memory with their requests pipelined (see `putSmall`); larger ones
 * stream through `fastPut`.
 */
const smallFileMax = transferOptions.chunkSize
/** Below the smallest write length ssh2 assumes of any server (34000 − 2048), so no write is split into a chain. */
const smallWritePiece = 30 * 1024

const signalNumbers = NodeOs.constants.signals as Record<string, number>

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

/** sshd refused the channel (MaxSessions busy): the command never ran, so opening again is safe. */
class ChannelRefused extends Data.TaggedError("ChannelRefused")<{ readonly detail: string }> {}
/** The connection was gone before the channel opened: the command never ran, so reconnecting is safe. */
class NotConnected extends Data.TaggedError("NotConnected")<{ readonly detail: string }> {}

// ---------------------------------------------------------------------------------------------------------
// The connection pool
// ---------------------------------------------------------------------------------------------------------

interface Slot {
  readonly index: number
  /** A connection that finished authentication and has not dropped since. */
  client: Client | undefined
  connecting: Deferred.Deferred<Client, RemoteConnectionError> | undefined
  sftp: Deferred.Deferred<SFTPWrapper, RemoteConnectionError> | undefined
  /** Channels of this slot in use (or being opened). */
  inUse: number
  /** Commands of this slot's connection that have not reported an exit (see `lostCommands`). */
  readonly running: Set<Tracked>
}

/** A command on a channel, as far as a lost connection matters: its pid once known, when it started and closed. */
interface Tracked {
  pid: number | undefined
  readonly openedAt: number
  closedAt: number | undefined
}

/** @internal */
export const make = (options: SA.SshAccountOptions): Effect.Effect<RemoteAccount.RemoteAccount, RemoteConnectionError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.sshHostname ?? options.hostname
    const port = options.port ?? 22
    const user = options.user ?? NodeOs.userInfo().username
    const maxChannels = Math.max(1, options.maxChannelsPerConnection ?? 4)
    const maxConnections = Math.max(1, options.maxConnections ?? 4)
    const connectTimeout = Duration.decode(options.connectTimeout ?? defaultConnectTimeout)
    const keepalive = Duration.decode(options.keepaliveInterval ?? defaultKeepalive)
    const scope = yield* Effect.scope

    const connectionError = (reason: RemoteAccount.ConnectionFailure, detail: string) =>
      new RemoteConnectionError({ host: options.hostname, port, reason, detail })

    /** One connection attempt, its authentication, host-key check and jump hosts prepared now (see sshConnect.ts). */
    const connectOnce = yield* SshConnect.connector(options, { host, port, user, connectTimeout, keepalive }, connectionError)

    let everConnected = false
    const newSlot = (index: number): Slot => ({ index, client: undefined, connecting: undefined, sftp: undefined, inUse: 0, running: new Set() })

    /**
     * Commands whose connection dropped while they ran: without a pty they run on, and nobody can reach them through
     * their channel any more. They are stopped by pid once a connection is back (see stopLost).
     */
    const lostCommands: Array<Tracked> = []
    const slots: Array<Slot> = Array.from({ length: maxConnections }, (_, index) => newSlot(index))

    const forget = (slot: Slot, client: Client) => {
      if (slot.client !== client) return
      slot.client = undefined
      slot.sftp = undefined
      // The channel's own close may come first (without an exit status): one that closed just now was lost too.
      const now = Date.now()
      for (const t of slot.running) {
        if (t.pid !== undefined && (t.closedAt === undefined || now - t.closedAt < lostCloseWindow)) lostCommands.push(t)
      }
      slot.running.clear()
    }

    /** Watches an established connection: when it drops, the slot forgets it and the next use reconnects. */
    const adopt = (slot: Slot, client: Client) => {
      slot.client = client
      everConnected = true
      client.setMaxListeners(0)
      client.on("close", () => forget(slot, client))
      client.on("end", () => forget(slot, client))
      client.on("error", () => forget(slot, client))
    }

    const connectSlot = (slot: Slot) => {
      const retrying = everConnected
      return connectOnce.pipe(
        Effect.retry({
          schedule: reconnectSchedule,
          while: (e) => retrying && (e.reason === "refused" || e.reason === "closed" || e.reason === "timeout")
        }),
        Effect.tap((client) => adopt(slot, client)),
        // Forked: the stop runs commands itself, on this very pool.
        Effect.tap(() => (lostCommands.length === 0 ? Effect.void : Effect.forkIn(stopLost, scope))),
        Effect.tap(() => Effect.logDebug(`connected to ${user}@${host}:${port} (connection ${slot.index + 1})`)),
        Effect.annotateLogs({ host: options.hostname })
      )
    }

    /** The slot's connection, connecting (once, shared by every waiter) when it has none. */
    const clientOf = (slot: Slot): Effect.Effect<Client, RemoteConnectionError> =>
      Effect.suspend(() => {
        if (slot.client !== undefined) return Effect.succeed(slot.client)
        if (slot.connecting !== undefined) return Deferred.await(slot.connecting)
        const done = Deferred.unsafeMake<Client, RemoteConnectionError>(FiberId.none)
        slot.connecting = done
        // Forked into the account's scope: a waiter that gives up must not abort the attempt others wait on.
        return connectSlot(slot).pipe(
          Effect.onExit((exit) =>
            Effect.zipRight(
              Effect.sync(() => {
                slot.connecting = undefined
              }),
              Deferred.done(done, exit)
            )
          ),
          Effect.forkIn(scope),
          Effect.zipRight(Deferred.await(done))
        )
      })

    // Bounded even in the account's release (where a plain timeout would wait): a connection to a host that stopped
    // answering says "close" only when its keepalives give up, tens of seconds later.
    const closeClient = (client: Client) =>
      Release.bounded(
        Effect.async<void>((resume) => {
          client.once("close", () => resume(Effect.void))
          client.end()
        }),
        connectionCloseTimeout,
        () => "no close"
      ).pipe(Effect.catchAll(() => Effect.sync(() => client.destroy())))

    yield* Effect.addFinalizer(() =>
      Effect.forEach(slots, (slot) => {
        const client = slot.client
        slot.client = undefined
        slot.sftp = undefined
        return client === undefined ? Effect.void : closeClient(client)
      }, { concurrency: "unbounded", discard: true })
    )

    // The first connection is made now: a wrong host, port or key fails `make`, not the first command.
    yield* clientOf(slots[0]!)

    // -- channels ----------------------------------------------------------------------------------------
    const permits = yield* Effect.makeSemaphore(maxConnections * maxChannels)

    /** One more connection's worth of channels, up to the ceiling; beyond it commands wait, and the log says why. */
    const grow = Effect.suspend(() => {
      if (slots.length >= Math.max(maxConnections, connectionCeiling)) {
        return Effect.logWarning(
          `all ${slots.length * maxChannels} channels to ${options.hostname} are held (each running process and log ` +
            `monitor holds one): commands wait for one to end`
        )
      }
      slots.push(newSlot(slots.length))
      return Effect.zipRight(
        permits.resize(slots.length * maxChannels),
        Effect.logDebug(`every channel to ${options.hostname} busy for ${Duration.format(growAfter)}: opening connection ${slots.length}`)
      )
    })

    /** A channel permit; when none frees up for a while, the pool grows rather than wait on long-lived channels. */
    const takePermit: Effect.Effect<void> = permits.take(1).pipe(
      Effect.timeout(growAfter),
      Effect.asVoid,
      Effect.catchTag("TimeoutException", () => Effect.zipRight(grow, takePermit))
    )

    /** The slot for a new channel: an open connection with room (least busy first), then one being opened, then a new one. */
    const pick = (): Slot => {
      let best: Slot | undefined
      let bestRank = 3
      for (const s of slots) {
        if (s.inUse >= maxChannels) continue
        const rank = s.client !== undefined ? 0 : s.connecting !== undefined ? 1 : 2
        if (rank < bestRank || (rank === bestRank && best !== undefined && rank < 2 && s.inUse < best.inUse)) {
          best = s
          bestRank = rank
        }
      }
      // The permits guarantee a slot with room.
      return best!
    }

    /**
     * Opens a channel running `line`. `onOpen` sees every channel that opens, even one whose caller was interrupted
     * meanwhile (`abandoned`): its command has started, and someone must stop it.
     */
    const execOnce = (slot: Slot, line: string, onOpen: (channel: ClientChannel, abandoned: boolean) => void) =>
      Effect.flatMap(clientOf(slot), (client) =>
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
                forget(slot, client)
                resume(Effect.fail(new NotConnected({ detail: message })))
              } else {
                resume(Effect.fail(connectionError("closed", `cannot run a command: ${message}`)))
              }
            })
          } catch (e) {
            // "Not connected": the socket died and the close event is still on its way.
            forget(slot, client)
            resume(Effect.fail(new NotConnected({ detail: errorText(e) })))
          }
          return Effect.sync(() => {
            abandoned = true
          })
        }))

    const retriable = (e: ChannelRefused | NotConnected | RemoteConnectionError) =>
      e._tag === "ChannelRefused" || e._tag === "NotConnected"

    const openChannel = (slot: Slot, line: string, onOpen: (channel: ClientChannel, abandoned: boolean) => void) => {
      const once = execOnce(slot, line, onOpen)
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
    const watch = (channel: ClientChannel, closed: Deferred.Deferred<number, RemoteConnectionError>) => {
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

    /**
     * Stops the commands of lost connections, by process group, TERM then KILL. A pid is signalled only while it
     * still leads its own session (as every command here does) and the host has been up longer than the command
     * ran: after a reboot, the same pid is someone else.
     */
    const stopLost = Effect.suspend(() => {
      const now = Date.now()
      const entries = lostCommands.splice(0).flatMap((t) =>
        t.pid === undefined ? [] : [`${t.pid}:${Math.max(0, Math.floor((now - t.openedAt) / 1000) - 1)}`])
      if (entries.length === 0) return Effect.void
      const ours = `up=$(cut -d. -f1 /proc/uptime); for e in ${entries.join(" ")}; do p=\${e%%:*}; [ "$up" -ge "\${e#*:}" ] || continue; ` +
        `s=$(cat /proc/$p/stat 2>/dev/null) || continue; s=\${s##*) }; set -- $s; [ "$4" = "$p" ] && echo "$p"; done`
      return Effect.zipRight(
        Effect.logDebug(`stopping ${entries.length} command(s) whose connection to ${options.hostname} was lost`),
        runQuietly(`g=$(${ours}); [ -n "$g" ] || exit 0; for p in $g; do kill -s TERM -- -$p; done 2>/dev/null; ` +
          `sleep ${Duration.toSeconds(Release.killGrace) > 1 ? 1 : Duration.toSeconds(Release.killGrace)}; for p in $g; do kill -s KILL -- -$p; done 2>/dev/null; true`)
      )
    }).pipe((stop) => Release.bounded(stop, orphanStopTimeout, () => "gave up"), Effect.ignore)

    /** A command run to its end by the backend itself (stopping an orphan), its exit status ignored. */
    const runQuietly = (line: string) => Effect.scoped(Effect.flatMap(exec(line), (raw) => raw.exitCode)).pipe(Effect.ignore)

    /**
     * Stops a command still running when its channel is released: its caller did not stop it — interrupted before
     * it saw the process (while the channel opened, or just after), or its own stop failed. A command without a pty
     * outlives its channel, so its process group is signalled by the pid its first line reported, TERM then KILL.
     */
    const stopOrphan = (opened: Opened, line: string) =>
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

    /** A channel as soon as it opened: its exit watched, its output read eagerly, its pid line (if any) noted. */
    const opened = (channel: ClientChannel, line: string, slot: Slot): Opened => {
      const closed = Deferred.unsafeMake<number, RemoteConnectionError>(FiberId.none)
      watch(channel, closed)
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
      const lost = (e: unknown) => connectionError("closed", errorText(e))
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

    /** Stops of abandoned channels still under way: the account waits for them before it closes its connections. */
    const stopping = new Set<Fiber.RuntimeFiber<void>>()
    // ssh2 reports an abandoned channel in a callback, outside any fiber: its stop is forked on the account's own
    // runtime (its logger, tracer and services), not a default one.
    const runtime = yield* Effect.runtime<never>()
    yield* Effect.addFinalizer(() =>
      Release.bounded(Effect.forEach([...stopping], Fiber.await, { discard: true }), orphanStopTimeout, () => "gave up").pipe(Effect.ignore)
    )

    const exec: RemoteAccount.Backend["exec"] = (line, stdin) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(takePermit), () => {
          // The permits guarantee a slot with room; which one is decided now, synchronously.
          const slot = pick()
          slot.inUse++
          let open: Opened | undefined
          // The caller learns of the command only when this returns, and may be interrupted first: a command still
          // running at release without its caller having stopped it (its own release runs before this one) is an
          // orphan. The slot is given back only once sshd has freed its session.
          const release = Effect.suspend(() =>
            open === undefined ? Effect.void : Effect.zipRight(
              Effect.flatMap(Deferred.isDone(open.exited), (done) => (done ? Effect.void : stopOrphan(open!, line))),
              releaseChannel(open.channel, open.closed)
            )
          ).pipe(
            Effect.ensuring(Effect.suspend(() => {
              slot.inUse--
              return permits.release(1)
            }))
          )
          const onOpen = (channel: ClientChannel, abandoned: boolean) => {
            const o = opened(channel, line, slot)
            // Abandoned: the release has run already; this channel is nobody's but ours.
            if (abandoned) {
              const fiber = Runtime.runFork(runtime)(Effect.zipRight(stopOrphan(o, line), releaseChannel(o.channel, o.closed)))
              stopping.add(fiber)
              fiber.addObserver(() => stopping.delete(fiber))
            }
            else open = o
          }
          return Effect.zipRight(
            Effect.addFinalizer(() => release),
            Effect.map(restore(openChannel(slot, line, onOpen)), (ch) => {
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

    // -- files -------------------------------------------------------------------------------------------
    const fileError = (path: string, reason: string) => new RemoteFileError({ host: options.hostname, path, reason })

    /** An SFTP failure: a status from the server is about the file, anything else is about the connection. */
    const sftpFailure = (path: string) => (e: unknown): RemoteFileError | RemoteConnectionError => {
      const code = (e as SshError).code
      if (typeof code === "number") {
        const reason = code === 2
          ? "no such file or directory"
          : code === 3
          ? "permission denied"
          : code === 4
          ? `failed (${errorText(e)})`
          : errorText(e)
        return fileError(path, reason)
      }
      if (typeof code === "string") return fileError(path, errorText(e)) // a local ENOENT, EACCES…
      return connectionError("closed", `SFTP: ${errorText(e)}`)
    }

    const primary = slots[0]!
    const sftp: Effect.Effect<SFTPWrapper, RemoteConnectionError> = Effect.suspend(() => {
      if (primary.sftp !== undefined) return Deferred.await(primary.sftp)
      const ready = Deferred.unsafeMake<SFTPWrapper, RemoteConnectionError>(FiberId.none)
      primary.sftp = ready
      return clientOf(primary).pipe(
        Effect.flatMap((client) =>
          Effect.async<SFTPWrapper, ChannelRefused | RemoteConnectionError>((resume) => {
            try {
              client.sftp((err, session) => {
                if (err !== undefined) {
                  const message = errorText(err)
                  return resume(Effect.fail(
                    message.includes("Channel open failure")
                      ? new ChannelRefused({ detail: message })
                      : message.includes("Unable to start subsystem")
                      // Not a lost connection: the server has no SFTP, and every file operation would fail alike.
                      ? connectionError(
                        "other",
                        `the server offers no SFTP subsystem (${message}), which file operations need; add ` +
                          `"Subsystem sftp internal-sftp" (or the path of sftp-server) to its sshd_config and reload sshd`
                      )
                      : connectionError("closed", `cannot open SFTP: ${message}`)
                  ))
                }
                session.on("error", () => {})
                session.once("close", () => {
                  if (primary.sftp === ready) primary.sftp = undefined
                })
                resume(Effect.succeed(session))
              })
            } catch (e) {
              forget(primary, client)
              resume(Effect.fail(connectionError("closed", errorText(e))))
            }
          })
        ),
        Effect.retry({ schedule: channelOpenRetry, while: (e) => e._tag === "ChannelRefused" }),
        Effect.catchTag("ChannelRefused", (e) => Effect.fail(connectionError("other", e.detail))),
        Effect.onExit((exit) =>
          Effect.zipRight(
            Effect.sync(() => {
              if (Exit.isFailure(exit) && primary.sftp === ready) primary.sftp = undefined
            }),
            Deferred.done(ready, exit)
          )
        )
      )
    })

    /** Runs one SFTP call. */
    const withSftp = <A>(path: string, call: (s: SFTPWrapper, cb: (err: unknown, value?: A) => void) => void) =>
      Effect.flatMap(sftp, (session) =>
        Effect.async<A, RemoteFileError | RemoteConnectionError>((resume) => {
          call(session, (err, value) => {
            if (err !== undefined && err !== null) resume(Effect.fail(sftpFailure(path)(err)))
            else resume(Effect.succeed(value as A))
          })
        }))

    const stat: RemoteAccount.Backend["stat"] = (path, follow) =>
      withSftp<ssh2.Stats>(path, (s, cb) => (follow ? s.stat(path, cb) : s.lstat(path, cb))).pipe(
        Effect.map((st) =>
          Option.some<RemoteAccount.FileInfo>({
            type: st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "link" : "other",
            size: st.size,
            mode: st.mode & 0o7777
          })
        ),
        Effect.catchIf(
          (e): e is RemoteFileError => e._tag === "RemoteFileError" && e.reason === "no such file or directory",
          () => Effect.succeed(Option.none())
        )
      )

    const backend: RemoteAccount.Backend = {
      identity: undefined as never, // set below, once the remote HOME is known
      exec,
      upload: (localPath, remotePath) =>
        Effect.flatMap(readForUpload(localPath, fileError), ({ data, mode, size }) =>
          withSftp<void>(remotePath, (s, cb) =>
            data === undefined
              ? s.fastPut(localPath, remotePath, { ...transferOptions, mode, fileSize: size }, cb)
              : putSmall(s, remotePath, data, mode, cb))),
      download: (remotePath, localPath) =>
        withSftp<void>(remotePath, (s, cb) => s.fastGet(remotePath, localPath, transferOptions, cb)),
      readFile: (path) => withSftp<Buffer>(path, (s, cb) => s.readFile(path, cb)),
      writeFile: (path, data) => withSftp<void>(path, (s, cb) => s.writeFile(path, Buffer.from(data), cb)),
      stat,
      readDir: (path) =>
        withSftp<Array<{ filename: string }>>(path, (s, cb) => s.readdir(path, cb)).pipe(
          Effect.map((entries) => entries.map((e) => e.filename).filter((n) => n !== "." && n !== ".."))
        ),
      mkdir: (path) =>
        withSftp<void>(path, (s, cb) => s.mkdir(path, cb)).pipe(
          // OpenSSH answers a plain "failure" for an existing path: fine if it is a directory.
          Effect.catchTag("RemoteFileError", (e) =>
            Effect.flatMap(stat(path, true), (info) =>
              Option.isSome(info) && info.value.type === "dir" ? Effect.void : Effect.fail(e)))
        ),
      transferConcurrency: 16,
      copiesTreesAsTar: true
    }

    // SFTP is opened now, alongside the first command: a server without it fails here, by name, rather than at
    // the first file operation with what would look like a lost connection.
    const [workdir] = yield* Effect.all([
      options.workdir === undefined ? remoteHome(exec, connectionError) : Effect.succeed(options.workdir),
      sftp
    ], { concurrency: "unbounded" })
    const identity: RemoteAccount.Identity = {
      hostname: options.hostname,
      sshHostname: host,
      user,
      port,
      externallyRoutableIp: options.externallyRoutableIp ??
        (options.askExternallyRoutableIp === true ? (yield* ownAddress(exec)) ?? host : host),
      os: "linux",
      workdir
    }
    return RemoteAccount.make({ ...backend, identity })
  }).pipe(Effect.withSpan("SshAccount.make", { attributes: { host: options.hostname } }))

/** A local file about to be uploaded: its mode and size, and its bytes when it is small enough to hold. */
interface LocalFile {
  readonly mode: number
  readonly size: number
  readonly data: Buffer | undefined
}

/** Opens, stats and (for a small file) reads a local file through one handle: four fs calls in all. */
const readForUpload = (
  localPath: string,
  fileError: (path: string, reason: string) => RemoteFileError
): Effect.Effect<LocalFile, RemoteFileError> =>
  Effect.tryPromise({
    try: async () => {
      const handle = await NodeFs.open(localPath, "r")
      try {
        const info = await handle.stat()
        const mode = info.mode & 0o7777
        if (!info.isFile() || info.size > smallFileMax) return { mode, size: info.size, data: undefined }
        const data = Buffer.allocUnsafe(info.size)
        let filled = 0
        while (filled < data.length) {
          const { bytesRead } = await handle.read(data, filled, data.length - filled, filled)
          if (bytesRead === 0) break // it shrank meanwhile: send what there is
          filled += bytesRead
        }
        return { mode, size: filled, data: data.subarray(0, filled) }
      } finally {
        await handle.close()
      }
    },
    catch: (e) =>
      (e as NodeJS.ErrnoException).code === "ENOENT"
        ? fileError(localPath, `local file ${localPath} does not exist`)
        : fileError(localPath, `cannot read local file ${localPath}: ${errorText(e)}`)
  })

/**
 * Writes a small file in two round trips where `fastPut` takes four (open; fchmod; write; close, each awaited):
 * once the handle is open, the writes, the fchmod and the close go out together. The SFTP protocol has the server
 * act as if requests on a handle ran one at a time in order, so the close comes after the writes.
 */
const putSmall = (s: SFTPWrapper, path: string, data: Buffer, mode: number, cb: (err: unknown) => void) =>
  s.open(path, "w", (openError, handle) => {
    if (openError !== undefined && openError !== null) return cb(openError)
    let pending = Math.ceil(data.length / smallWritePiece) + 2
    let failure: unknown = undefined
    let modeRefused = false
    const done = (e: unknown) => {
      if (e !== undefined && e !== null && failure === undefined) failure = e
      if (--pending > 0) return
      if (failure !== undefined || !modeRefused) return cb(failure)
      // A server without fsetstat: set the mode by path, as fastPut does (and, like it, ignore a refusal).
      s.chmod(path, mode, () => cb(undefined))
    }
    for (let offset = 0; offset < data.length; offset += smallWritePiece) {
      s.write(handle, data, offset, Math.min(smallWritePiece, data.length - offset), offset, done)
    }
    s.fchmod(handle, mode, (e) => {
      if (e !== undefined && e !== null) modeRefused = true
      done(undefined)
    })
    s.close(handle, done)
  })

/** A short command's output and exit status, asked of the backend itself (before the account exists). */
const outputOf = (exec: RemoteAccount.Backend["exec"], line: string) =>
  Effect.scoped(
    Effect.flatMap(exec(line), (p) =>
      Effect.all([
        Stream.runFold(Stream.decodeText(p.stdout), "", (acc, s) => acc + s),
        p.exitCode
      ], { concurrency: "unbounded" }))
  )

/** `$HOME` as the remote login sees it. */
const remoteHome = (
  exec: RemoteAccount.Backend["exec"],
  connectionError: (reason: RemoteAccount.ConnectionFailure, detail: string) => RemoteConnectionError
) =>
  Effect.flatMap(outputOf(exec, `printf '%s' "$HOME"`), ([home, code]) =>
    code === 0 && home.startsWith("/")
      ? Effect.succeed(home)
      : Effect.fail(connectionError("other", `cannot learn the remote $HOME (exit ${code}); set workdir`)))

/**
 * The node's own idea of its address (see SshAccountOptions.askExternallyRoutableIp): eth1's IPv4 address, else the
 * last global IPv4 address not on a container or VM bridge; undefined if it has none or cannot say.
 */
const ownAddress = (exec: RemoteAccount.Backend["exec"]) =>
  outputOf(
    exec,
    `PATH="$PATH:/usr/sbin:/sbin"; { ip -o -4 addr show dev eth1 scope global 2>/dev/null | awk '{ print $4 }' | head -1 | grep .; } || ` +
      `ip -o -4 addr show scope global 2>/dev/null | awk '$2 !~ /^(docker|br-|virbr|veth|cni|flannel|cali|lxc)/ { print $4 }' | tail -1`
  ).pipe(
    Effect.map(([out]) => {
      const address = out.trim().split("/")[0] ?? ""
      return /^\d{1,3}(\.\d{1,3}){3}$/.test(address) ? address : undefined
    }),
    Effect.orElseSucceed(() => undefined)
  )
