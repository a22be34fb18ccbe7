/**
 * A session's directory and the files written as it runs: session.log (progress lines) and results.jsonl; and where
 * in it each test's attempts keep their results.
 */
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Effect, Schema } from "effect"
import * as Results from "../../../Results.js"
import type { RunEvent } from "../../../Runner.js"
import { filesErrorText, withFiles } from "../../shared/files.js"
import { ResultsDirError } from "../errors.js"
import { makeProgress } from "./progress.js"

const today = () => {
  const d = new Date()
  const pad = (n: number) => String(n).padStart(2, "0")
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}

/** Allocates the next session id under the results root and creates its directory. */
export const createSessionDir = (resultsRoot: string) =>
  withFiles((fs) =>
    Effect.gen(function*() {
      const root = NodePath.resolve(resultsRoot)
      yield* fs.makeDirectory(root, { recursive: true })
      const prefix = `${today()}--`
      const taken = (yield* fs.readDirectory(root)).filter((n) => n.startsWith(prefix))
        .map((n) => Number.parseInt(n.slice(prefix.length), 10)).filter(Number.isFinite)
      // mkdir without `recursive` fails if the directory exists: two runs started at once get different ids.
      for (let n = Math.max(0, ...taken) + 1; ; n++) {
        const id = `${prefix}${String(n).padStart(3, "0")}`
        const dir = NodePath.join(root, id)
        const made = yield* fs.makeDirectory(dir).pipe(
          Effect.as(true),
          Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "AlreadyExists", () => Effect.succeed(false))
        )
        if (!made) continue
        const latest = NodePath.join(root, "latest")
        yield* fs.remove(latest, { force: true })
        // A file system without symlinks still gets its results; only the `latest` shortcut is missing.
        yield* fs.symlink(id, latest).pipe(Effect.ignore)
        return { id, dir }
      }
    })
  ).pipe(Effect.mapError((e) => new ResultsDirError({ path: resultsRoot, reason: filesErrorText(e), cause: e })))

/** A directory name for a test id; a long one is cut and given a hash of the whole id, so two never share. */
export const safeDirName = (id: string) => {
  const safe = id.replace(/[^A-Za-z0-9._=-]+/g, "_")
  if (safe.length <= 200) return safe
  return `${safe.slice(0, 183)}-${NodeCrypto.createHash("sha256").update(id).digest("hex").slice(0, 16)}`
}

/**
 * The results directory of one attempt of a test: the test's own directory, and within it one per run and attempt
 * when `numbered` (--repeat or --deflake can give the test more than one).
 */
export const attemptDir = (sessionDir: string, testId: string, run: number, attempt: number, numbered: boolean) =>
  NodePath.join(sessionDir, safeDirName(testId), numbered ? `${run}${attempt > 1 ? `-attempt${attempt}` : ""}` : "")


/** Flushes and closes a file being appended to. */
const endStream = (stream: NodeFs.WriteStream) => Effect.promise(() => new Promise<void>((resolve) => stream.end(() => resolve())))

/**
 * The run's own log, kept with its results (CI keeps the directory, not always the terminal): the progress lines,
 * timestamped; and results.jsonl, each result the moment it is known.
 */
export const openSessionFiles = (dir: string) => {
  const sessionLog = NodeFs.createWriteStream(NodePath.join(dir, "session.log"), { flags: "a" })
  sessionLog.on("error", () => {})
  const logged = makeProgress({
    write: (text: string) => sessionLog.write(text.replace(/^(?=.)/gm, () => `[${new Date().toISOString()}] `))
  })
  const jsonl = NodeFs.createWriteStream(NodePath.join(dir, "results.jsonl"), { flags: "a" })
  jsonl.on("error", () => {})
  const encode = Schema.encodeSync(Schema.parseJson(Results.TestResult))
  return {
    log: (event: RunEvent) => logged.onEvent(event),
    append: (result: Results.TestResult) => void jsonl.write(encode(result) + "\n"),
    close: Effect.forEach([jsonl, sessionLog], endStream, { discard: true })
  }
}
