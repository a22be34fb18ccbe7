/**
 * How a test's failure reads in the reports and on the terminal: a tag and a message a person can act on, and a
 * detail that shows the user's own frames (the test or service line that failed) rather than the library's. A
 * message too long for either is cut there and kept whole in the test's results directory.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { Cause, Option } from "effect"
import { packageFile } from "../shared/packageFiles.js"

/** A failed test's tag, message and detail, as its result carries them. */
export interface Failure {
  tag: string
  message: string
  detail: string
}

const messageOf = (e: unknown): { tag: string; message: string } => {
  if (typeof e === "object" && e !== null) {
    const tag = "_tag" in e && typeof e._tag === "string" ? e._tag : e instanceof Error ? e.name : "Error"
    const message = "message" in e && typeof e.message === "string" && e.message !== "" ? e.message : JSON.stringify(e)
    return { tag, message }
  }
  return { tag: "Error", message: String(e) }
}

/** Errors of account calls made by tests and services, with where they were called (see trackedNodes.ts). */
const callSites = new WeakMap<object, Error>()

/** Remembers where the user called the account call that failed with `error` (the first call site is kept). */
export const noteCallSite = (error: unknown, site: Error): void => {
  if (typeof error === "object" && error !== null && !callSites.has(error)) callSites.set(error, site)
}

/**
 * The framework's own code, as a stack frame names it (a path or a file URL): its src/ (run by tsx) and its dist/
 * (built). Its examples/ are a user's code, like any test file.
 */
let frameworkDirs: ReadonlyArray<string> | undefined
const frameworkCode = () =>
  frameworkDirs ??= ["src", "dist"].flatMap((dir) => {
    const path = packageFile(dir) + NodePath.sep
    return [path, NodeUrl.pathToFileURL(path).href]
  })
const isLibraryFrame = (line: string) =>
  line.includes("node_modules") || line.includes("node:") || line.includes("(<anonymous>)") ||
  frameworkCode().some((dir) => line.includes(dir))

/**
 * A failure's detail for the reports: the stack below the message (the summary says the message already), with only
 * the user's frames (the test or service line that failed) unless --debug asks for the library's too.
 */
const detailOf = (cause: Cause.Cause<unknown>, message: string, debug: boolean, error?: unknown): string => {
  const site = typeof error === "object" && error !== null ? callSites.get(error) : undefined
  const called = (site?.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l) && !isLibraryFrame(l)).slice(0, 5)
  const lines = Cause.pretty(cause).split("\n")
  const isFrame = (l: string) => /^\s+at /.test(l)
  const firstFrame = lines.findIndex(isFrame)
  const head = firstFrame < 0 ? lines : lines.slice(0, firstFrame)
  const firstMessageLine = message.split("\n")[0] ?? ""
  const kept = head.join("\n").includes(firstMessageLine) ? [] : head
  let hidden = 0
  for (const l of firstFrame < 0 ? [] : lines.slice(firstFrame)) {
    if (isFrame(l) && !debug && isLibraryFrame(l)) hidden++
    else kept.push(l)
  }
  if (called.length > 0) kept.push("  called at:", ...called)
  if (hidden > 0) kept.push(`    (${hidden} frames of ducktape and its libraries hidden: --debug shows them)`)
  return kept.join("\n")
}

/** Why a test failed, from the cause it failed with: its error, the defect that crashed it, or its interruption. */
export const describeCause = (cause: Cause.Cause<unknown>, debug = false): Failure => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const m = messageOf(failure.value)
    return { ...m, detail: detailOf(cause, m.message, debug, failure.value) }
  }
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) {
    const m = messageOf(defect.value)
    return { tag: "Defect", message: `the test crashed: ${m.message}`, detail: detailOf(cause, m.message, debug, defect.value) }
  }
  return { tag: "Interrupted", message: "the test was interrupted", detail: debug ? Cause.pretty(cause) : "" }
}

/** Past this a failure's message goes whole into a file of the test's results directory, and cut into the reports. */
const maxMessageChars = 4000
const failureFile = "failure.txt"

/** A failure whose message or detail is too long for reports and terminals: the whole kept in the test's directory. */
export const capped = (failure: Failure, dir: string): Failure => {
  if (failure.message.length <= maxMessageChars && failure.detail.length <= 4 * maxMessageChars) return failure
  try {
    NodeFs.writeFileSync(NodePath.join(dir, failureFile), `${failure.tag}: ${failure.message}\n\n${failure.detail}\n`)
  } catch {
    // the cut text below still says what failed
  }
  const cut = (s: string, max: number) =>
    s.length <= max ? s : `${s.slice(0, max)}… (${s.length - max} more characters: the whole is in ${failureFile} of the test's results)`
  return { tag: failure.tag, message: cut(failure.message, maxMessageChars), detail: cut(failure.detail, 4 * maxMessageChars) }
}
