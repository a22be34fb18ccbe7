/**
 * The connections of one SSH account, and room for channels on them. sshd caps the channels of one connection
 * (MaxSessions), and long-lived channels (started processes, log tails) hold theirs for as long as they run, so an
 * account keeps a few connections, hands each new channel to the least busy one, grows when every channel stays
 * busy, and re-opens a connection that dropped the next time it is needed. What ran on a connection that dropped is
 * noted here (`lost`), because only the pool sees the drop; stopping it is the caller's (see exec.ts).
 */
import type { Scope } from "effect"
import { Data, Deferred, Duration, Effect, FiberId, Schedule } from "effect"
import type { Client, SFTPWrapper } from "ssh2"
import type { RemoteConnectionError } from "../errors.js"
import * as Release from "../../shared/release.js"

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
export const channelOpenRetry = Schedule.exponential("2 millis", 2).pipe(
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
/** How long closing all connections may take in a release. */
const connectionCloseTimeout = Duration.seconds(3)
/** A channel that closed without an exit status this shortly before its connection dropped was lost with it. */
const lostCloseWindow = 5_000

/** sshd refused the channel (MaxSessions busy): the command never ran, so opening again is safe. */
export class ChannelRefused extends Data.TaggedError("ChannelRefused")<{ readonly detail: string }> {}

// ---------------------------------------------------------------------------------------------------------
// The connection pool
// ---------------------------------------------------------------------------------------------------------

/** One connection of the pool: the client while it is up, and what uses it. */
export interface Slot {
  readonly index: number
  /** A connection that finished authentication and has not dropped since. */
  client: Client | undefined
  connecting: Deferred.Deferred<Client, RemoteConnectionError> | undefined
  sftp: Deferred.Deferred<SFTPWrapper, RemoteConnectionError> | undefined
  /** Channels of this slot in use (or being opened). */
  inUse: number
  /** Commands of this slot's connection that have not reported an exit (see `Pool.lost`). */
  readonly running: Set<Tracked>
}

/** A command on a channel, as far as a lost connection matters: its pid once known, when it started and closed. */
export interface Tracked {
  pid: number | undefined
  readonly openedAt: number
  closedAt: number | undefined
}

/** What a pool is made from. */
export interface PoolOptions {
  /** The node's logical name, for the log. */
  readonly hostname: string
  /** `user@host:port`, for the log. */
  readonly address: string
  readonly maxConnections: number
  readonly maxChannels: number
  /** One connection attempt (see connect.ts). */
  readonly connect: Effect.Effect<Client, RemoteConnectionError>
  /** Stops the commands in `Pool.lost`: forked into the account's scope once a connection is back. */
  readonly stopLost: Effect.Effect<void>
}

/** The connections of an account, and its channel permits. */
export interface Pool {
  /** The first connection: SFTP runs on it. */
  readonly primary: Slot
  /**
   * Commands whose connection dropped while they ran: without a pty they run on, and nobody can reach them through
   * their channel any more. They are stopped by pid once a connection is back (see `PoolOptions.stopLost`).
   */
  readonly lost: Array<Tracked>
  /** The slot's connection, connecting (once, shared by every waiter) when it has none. */
  readonly clientOf: (slot: Slot) => Effect.Effect<Client, RemoteConnectionError>
  /** Drops the slot's connection (if it is still `client`): the next use reconnects. */
  readonly forget: (slot: Slot, client: Client) => void
  /** A channel permit; when none frees up for a while, the pool grows rather than wait on long-lived channels. */
  readonly takePermit: Effect.Effect<void>
  /** The slot for the channel whose permit was just taken, counted as in use. */
  readonly claim: () => Slot
  /** Gives back the permit and the slot's room of a channel that closed. */
  readonly giveBack: (slot: Slot) => Effect.Effect<void>
}

/**
 * A pool with its first connection made: a wrong host, port or key fails here, not at the first command. Closing
 * the scope closes every connection.
 */
export const make = (options: PoolOptions): Effect.Effect<Pool, RemoteConnectionError, Scope.Scope> =>
  Effect.gen(function*() {
    const { maxChannels, maxConnections } = options
    const scope = yield* Effect.scope
    let everConnected = false

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
      return options.connect.pipe(
        Effect.retry({
          schedule: reconnectSchedule,
          while: (e) => retrying && (e.reason === "refused" || e.reason === "closed" || e.reason === "timeout")
        }),
        Effect.tap((client) => adopt(slot, client)),
        // Forked: the stop runs commands itself, on this very pool.
        Effect.tap(() => (lostCommands.length === 0 ? Effect.void : Effect.forkIn(options.stopLost, scope))),
        Effect.tap(() => Effect.logDebug(`connected to ${options.address} (connection ${slot.index + 1})`)),
        Effect.annotateLogs({ host: options.hostname })
      )
    }

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

    const takePermit: Effect.Effect<void> = permits.take(1).pipe(
      Effect.timeout(growAfter),
      Effect.asVoid,
      Effect.catchTag("TimeoutException", () => Effect.zipRight(grow, takePermit))
    )

    return {
      primary: slots[0]!,
      lost: lostCommands,
      clientOf,
      forget,
      takePermit,
      claim: () => {
        const slot = pick(slots, maxChannels)
        slot.inUse++
        return slot
      },
      giveBack: (slot) =>
        Effect.suspend(() => {
          slot.inUse--
          return permits.release(1)
        })
    }
  })

const newSlot = (index: number): Slot => ({ index, client: undefined, connecting: undefined, sftp: undefined, inUse: 0, running: new Set() })

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

/** The slot for a new channel: an open connection with room (least busy first), then one being opened, then a new one. */
const pick = (slots: ReadonlyArray<Slot>, maxChannels: number): Slot => {
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
