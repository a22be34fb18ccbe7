import { Deferred, Duration, Effect, Exit, Fiber, Schedule, Stream } from "effect"
import type * as LM from "../../LogMonitor.js"
import { LogMonitorProcessExited, LogMonitorTimeout } from "../../LogMonitor.js"
import type * as RA from "../../RemoteAccount.js"
import * as Shell from "../../Shell.js"
import * as DaemonExit from "./daemonExit.js"
import { isProcessId } from "./pid.js"
import * as Release from "../shared/release.js"

/** How many of the file's last lines a timeout error shows. */
const lastLinesKept = 20
/** How many of the file's first lines it shows too, when there were more: a bad flag's cause is the first line. */
const firstLinesKept = 5

/** After the watched process is gone, how long its last lines may take to reach the tail. */
const exitedLinesGrace = Duration.millis(300)

/** How long a waitUntil that did not match waits for its tail to stop before it returns. */
const readerStopWait = Duration.seconds(2)

/** Re-opening the tail after a lost connection: quick at first, then slower. */
const reopenBackoff = Schedule.exponential("100 millis", 2).pipe(Schedule.union(Schedule.spaced("5 seconds")))

/** How long `lines` re-opens over a lost connection before it fails (see LogMonitorOptions). */
const defaultReconnectFor = Duration.minutes(2)

/** What a wait read of the file, kept for its failure: the first lines and the latest ones, with how many lay between. */
const makeTranscript = () => {
  const first: Array<string> = []
  const recent: Array<string> = []
  let seen = 0
  return {
    add: (line: string) => {
      seen++
      if (first.length < firstLinesKept) first.push(line)
      recent.push(line)
      if (recent.length > lastLinesKept) recent.shift()
    },
    /** The file's first lines appear only when the latest ones no longer hold them. */
    shown: () => {
      const skipped = seen - lastLinesKept - firstLinesKept
      return {
        lastLines: [...recent],
        ...(seen <= lastLinesKept ? {} : { firstLines: first.slice(0, Math.max(0, seen - lastLinesKept)) }),
        ...(skipped > 0 ? { skippedLines: skipped } : {})
      }
    }
  }
}

/** @internal */
export const make = (
  account: RA.RemoteAccount,
  path: string,
  options: LM.LogMonitorOptions = {}
): Effect.Effect<LM.LogMonitor, RA.CommandError> =>
  Effect.gen(function*() {
    const absolute = account.resolve(path)
    // The current end of the file; a file that does not exist yet is watched from its first byte.
    const size = yield* account.sshOutput(`stat -c %s -- ${Shell.quote(absolute)} 2>/dev/null || echo 0`)
    const offset = Number.parseInt(size.trim(), 10) || 0

    // -F follows the name across rotation and creation; -s bounds the polling latency while the file is missing.
    const tail = (from: number) =>
      account.sshCapture(`exec tail -s 0.05 -F -c +${from + 1} -- ${Shell.quote(absolute)} 2>/dev/null`)

    const linesFrom = (backoff: Schedule.Schedule<unknown, unknown>, onProblem: (problem: string) => void = () => {}) => {
      // After a lost connection the tail re-opens where the consumed lines end.
      let consumed = offset
      return Stream.suspend(() => tail(consumed)).pipe(
        Stream.tap((line) => Effect.sync(() => (consumed += Buffer.byteLength(line) + 1))),
        Stream.tapError((e) => Effect.sync(() => onProblem(e.message))),
        Stream.retry(Schedule.whileInput(backoff, (e: RA.CommandError) => e._tag === "RemoteConnectionError"))
      )
    }

    const waitUntil: LM.LogMonitor["waitUntil"] = (pattern, options) =>
      Effect.gen(function*() {
        const matches = typeof pattern === "string" ? (l: string) => l.includes(pattern) : (l: string) => pattern.test(l)
        const wanted = options.count ?? 1
        const transcript = makeTranscript()
        const backoff = options.backoff === undefined
          ? reopenBackoff
          : Schedule.isSchedule(options.backoff)
          ? options.backoff
          : Schedule.spaced(options.backoff)
        const found: Array<string> = []
        // The latest reason the tail failed (it is re-opened after a lost connection): a timeout says it.
        let readProblem: string | undefined
        const done = yield* Deferred.make<ReadonlyArray<string>>()
        // The tail runs in its own fiber so that a match returns at once: stopping the remote tail costs a round
        // trip plus the tail's exit (~10 ms), which the caller should not wait for when the line is already here.
        const reader = yield* linesFrom(backoff, (problem) => (readProblem = problem)).pipe(
          Stream.tap((line) => Effect.sync(() => transcript.add(line))),
          Stream.filter(matches),
          Stream.runForEachWhile((line) => {
            found.push(line)
            return found.length < wanted ? Effect.succeed(true) : Effect.as(Deferred.succeed(done, [...found]), false)
          }),
          Effect.forkDaemon
        )
        const ended = Effect.flatMap(Fiber.join(reader), () => Deferred.await(done))
        const pid = options.whileAlive
        // The writer gone (its exit seen by one remote command that waits for it), the line will never come; lines
        // it wrote just before it ended get a moment to arrive.
        const writerGone = pid === undefined || !isProcessId(pid) ? Effect.never : account.exec(DaemonExit.awaitExitLine(pid)).pipe(
          // Not knowing (a lost connection) is no reason to fail: the timeout still bounds the wait.
          Effect.catchAll(() => Effect.never),
          Effect.flatMap((r) =>
            Deferred.await(done).pipe(
              Effect.timeout(exitedLinesGrace),
              Effect.catchTag("TimeoutException", () => {
                const code = Number.parseInt(r.stdout.trim(), 10)
                return Effect.fail(
                  new LogMonitorProcessExited({
                    host: account.hostname,
                    path: absolute,
                    pattern: String(pattern),
                    pid,
                    ...(Number.isInteger(code) ? { exitCode: code } : {}),
                    ...transcript.shown(),
                    ...(options.errMsg === undefined ? {} : { errMsg: options.errMsg })
                  })
                )
              })
            )
          )
        )
        return yield* Deferred.await(done).pipe(
          Effect.raceFirst(ended),
          Effect.raceFirst(writerGone),
          Effect.timeoutFail({
            duration: options.timeout,
            onTimeout: () =>
              new LogMonitorTimeout({
                host: account.hostname,
                path: absolute,
                pattern: String(pattern),
                timeout: Duration.format(Duration.decode(options.timeout)),
                ...transcript.shown(),
                ...(options.errMsg === undefined ? {} : { errMsg: options.errMsg }),
                ...(readProblem === undefined ? {} : { readProblem })
              })
          }),
          // On a match the tail is stopped in the background. Otherwise we wait for it to stop — but over a dead
          // connection that can take seconds the caller's time limit did not grant, so not for long.
          Effect.onExit((exit) =>
            Exit.isSuccess(exit)
              ? Effect.asVoid(Effect.forkDaemon(Fiber.interrupt(reader)))
              : Effect.ignore(Release.bounded(Fiber.interrupt(reader), readerStopWait, () => "still stopping"))
          )
        )
      }).pipe(Effect.withSpan("LogMonitor.waitUntil", { attributes: { host: account.hostname, path: absolute } }))

    // A stream's retry starts its schedule afresh once a line comes through: the limit is on one outage.
    const lines = linesFrom(Schedule.upTo(reopenBackoff, options.reconnectFor ?? defaultReconnectFor))
    return { host: account.hostname, path: absolute, offset, lines, waitUntil }
  })
