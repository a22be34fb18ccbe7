/** How discovery states a problem: a DiscoveryError with its fix, lists cut short, an error's text and a hint. */
import { Effect } from "effect"
import { DiscoveryError } from "../errors.js"

/** How many alternatives an error message lists before it says "and N more". */
const listLimit = 12

export const namingFix = "test files are named *.ducktape.ts (or .mts/.js/.mjs) and export Test.suite(…) or Test.make(…) " +
  "values; a file named explicitly is loaded whatever its name"

export const fail = (problem: string, fix: string) => Effect.fail(new DiscoveryError({ problem, fix }))

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

export const listOf = (items: ReadonlyArray<string>) =>
  items.length <= listLimit
    ? items.join(", ")
    : `${items.slice(0, listLimit).join(", ")} and ${items.length - listLimit} more`

export const errorText = (e: unknown, file?: string): string => {
  if (!(e instanceof Error)) return String(e)
  const text = e.message.trim() === "" ? e.name : e.message.trim()
  // A bare "boom" says little; the frame in the test file says where it was thrown.
  const frame = file === undefined
    ? undefined
    : (e.stack ?? "").split("\n").find((l) => /^\s+at /.test(l) && l.includes(file))?.trim().replace(/^at /, "")
  return frame === undefined || text.includes(file!) ? text : `${text} (at ${frame})`
}

/** What to do about the import errors people meet most. */
export const importHint = (e: unknown): string => {
  const text = e instanceof Error ? e.message : String(e)
  if (/require\(\) ES Module|require\(esm\)|Cannot use import statement outside a module/.test(text)) {
    return "\n  fix: the file was loaded as CommonJS; add \"type\": \"module\" to the package.json above it, or name it *.ducktape.mts"
  }
  if (/Cannot find (package|module) '(effect|ducktape-effect)'/.test(text)) {
    return "\n  fix: install the framework where the test lives (npm install ducktape-effect effect)"
  }
  return ""
}
