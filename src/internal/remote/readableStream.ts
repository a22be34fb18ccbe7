import type { Readable } from "node:stream"
import { Chunk, Effect, Option, Stream } from "effect"

/** How much unread output a pump buffers before it pauses its source (and so the writing process). */
const defaultHighWater = 2 * 1024 * 1024

/** A Node readable read eagerly, consumed either as a Stream or all at once. Single consumer. */
export interface Pump<E> {
  /** The bytes as they arrive. */
  readonly stream: Stream.Stream<Uint8Array, E>
  /** Waits for the end and returns every byte, without the cost of running a Stream. */
  readonly collect: Effect.Effect<Uint8Array, E>
  /** The bytes received and not yet consumed (for a first line needed early, such as a pid). */
  readonly peek: () => Uint8Array
  /** Stops pausing the source: for a stream nobody reads until another one ended (stderr while stdout is collected). */
  readonly unbound: () => void
}

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array =>
  chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)

/**
 * Reads a Node readable in flowing mode from the moment this is called, pausing only past `highWater` unread
 * bytes. Reading eagerly lets the source reach its end (and its owner report an exit status) while nobody
 * pulls. Both ways of consuming it cost a handful of fiber operations, where `NodeStream.fromReadable` plus
 * `Stream.runCollect` cost hundreds: that difference is most of a short command's time.
 */
export const pump = <E>(
  readable: Readable,
  onError: (error: unknown) => E,
  highWater: number = defaultHighWater
): Pump<E> => {
  let chunks: Array<Uint8Array> = []
  let buffered = 0
  let paused = false
  let ended = false
  let failure: Option.Option<E> = Option.none()
  let wake: (() => void) | undefined
  // While `collect` waits (or after `unbound`) it takes everything: no pausing, or the source could never end.
  let collecting = false
  let unbounded = false

  const notify = () => {
    const w = wake
    wake = undefined
    if (w !== undefined) w()
  }
  readable.on("data", (chunk: Uint8Array) => {
    chunks.push(chunk)
    buffered += chunk.length
    if (buffered >= highWater && !paused && !collecting && !unbounded) {
      paused = true
      readable.pause()
    }
    if (!collecting) notify()
  })
  const onEnd = () => {
    ended = true
    notify()
  }
  readable.once("end", onEnd)
  // A source destroyed before its end (our own release, a dropped connection) ends it too.
  readable.once("close", onEnd)
  readable.once("error", (e) => {
    failure = Option.some(onError(e))
    notify()
  })

  const take = () => {
    const out = chunks
    chunks = []
    buffered = 0
    if (paused) {
      paused = false
      readable.resume()
    }
    return out
  }

  const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>> = Effect.suspend(() => {
    if (chunks.length > 0) return Effect.succeed(Chunk.unsafeFromArray(take()))
    if (Option.isSome(failure)) return Effect.fail(failure)
    if (ended) return Effect.fail(Option.none())
    return Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<E>>((resume) => {
      wake = () => resume(pull)
      return Effect.sync(() => {
        wake = undefined
      })
    })
  })

  const collect: Effect.Effect<Uint8Array, E> = Effect.suspend(() => {
    if (Option.isSome(failure)) return Effect.fail(failure.value)
    if (ended) return Effect.succeed(concat(take()))
    collecting = true
    if (paused) {
      paused = false
      readable.resume()
    }
    return Effect.async<Uint8Array, E>((resume) => {
      wake = () => resume(collect)
      return Effect.sync(() => {
        wake = undefined
        collecting = unbounded
      })
    })
  })

  return {
    stream: Stream.repeatEffectChunkOption(pull),
    collect,
    peek: () => concat(chunks),
    unbound: () => {
      unbounded = true
      if (paused) {
        paused = false
        readable.resume()
      }
    }
  }
}

const pumpsKey = Symbol.for("ducktape-effect/RawProcess/pumps")

/**
 * A backend's process whose output can also be collected without Streams. `RemoteAccount.exec` (and so `ssh`,
 * `sshOutput`, `alive`, `pids`…) uses this fast path when a backend offers it.
 */
export interface Collectable<E> {
  readonly [pumpsKey]: { readonly stdout: Pump<E>; readonly stderr: Pump<E> }
}

/** Attaches the pumps behind a process's streams. */
export const collectable = <P extends object, E>(process: P, stdout: Pump<E>, stderr: Pump<E>): P & Collectable<E> =>
  Object.assign(process, { [pumpsKey]: { stdout, stderr } })

/** The pumps behind a process's streams, when its backend offers them. */
export const pumpsOf = <E>(process: object): Collectable<E>[typeof pumpsKey] | undefined =>
  (process as Partial<Collectable<E>>)[pumpsKey]
