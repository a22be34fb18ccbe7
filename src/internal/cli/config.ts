/**
 * Config files of default flags (./.ducktape/config, ~/.ducktape/config or --config-file): read with shell-like
 * quoting, merged under the command line with ducktape's precedence.
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type { FlagProblem } from "./flags.js"

/**
 * A config file's text as words, as a POSIX shell splits them: whitespace separates; '…' is literal; "…" keeps
 * spaces, with \" \\ \$ \` escaped; a backslash outside quotes escapes the next character; # at the start of a word
 * comments out the rest of the line. Hand-written: no variables or globs to expand, ~40 lines, no dependency.
 */
export const tokenize = (text: string): { readonly words: ReadonlyArray<string> } | { readonly problem: string } => {
  const words: Array<string> = []
  let word: string | undefined
  let line = 1
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "\n") line++
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word)
      word = undefined
    } else if (c === "#" && word === undefined) {
      while (i + 1 < text.length && text[i + 1] !== "\n") i++
    } else if (c === "\\") {
      if (text[i + 1] === "\n") {
        i++
        line++
      } else if (i + 1 < text.length) word = (word ?? "") + text[++i]
    } else if (c === "'" || c === '"') {
      const opened = line
      let j = i + 1
      let quoted = ""
      for (; j < text.length && text[j] !== c; j++) {
        if (text[j] === "\n") line++
        if (c === '"' && text[j] === "\\" && /["\\$`\n]/.test(text[j + 1] ?? "")) j++
        quoted += text[j]
      }
      if (j >= text.length) return { problem: `line ${opened}: the ${c === "'" ? "single" : "double"} quote opened here is never closed` }
      word = (word ?? "") + quoted
      i = j
    } else word = (word ?? "") + c
  }
  if (word !== undefined) words.push(word)
  return { words }
}

/** Flags that may be given several times: a config's values add up, the command line's replace them. */
const repeatable: ReadonlySet<string> = new Set(["--exclude"])
/** Flags that choose the cluster: one of them given (anywhere later in the precedence) overrides the others. */
const clusterFlags: ReadonlySet<string> = new Set(["--cluster", "--cluster-file", "--ssh-config"])

/** A config file's (or the command line's) words as flags with their values; `--flag=value` is split. */
const flagsOf = (tokens: ReadonlyArray<string>): Array<{ readonly flag: string; readonly value: string | undefined }> => {
  const out: Array<{ flag: string; value: string | undefined }> = []
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    if (!t.startsWith("--")) continue
    const eq = t.indexOf("=")
    if (eq > 0) out.push({ flag: t.slice(0, eq), value: t.slice(eq + 1) })
    else out.push({ flag: t, value: tokens[i + 1] !== undefined && !tokens[i + 1]!.startsWith("--") ? tokens[++i] : undefined })
  }
  return out
}

/**
 * Flags from config files for what the command line does not set, with ducktape's precedence: ./.ducktape/config,
 * then ~/.ducktape/config (or --config-file, which must exist), then the command line; later wins.
 */
export const withConfigDefaults = (
  argv: ReadonlyArray<string>
): { readonly extra: ReadonlyArray<string> } | FlagProblem => {
  const given = flagsOf(argv)
  const explicitFlag = given.find((f) => f.flag === "--config-file")
  const explicit = explicitFlag?.value
  if (explicitFlag !== undefined && (explicit === undefined || !NodeFs.existsSync(explicit))) {
    return {
      problem: explicit === undefined ? "--config-file: no file given" : `--config-file ${explicit}: no such file`,
      fix: "give the path of a file of ducktape flags (one or more per line; # starts a comment)"
    }
  }
  const files = [NodePath.resolve(".ducktape/config"), explicit ?? NodePath.join(NodeOs.homedir(), ".ducktape/config")]
  // Walk from the strongest source down; a flag the stronger source set is not taken from a weaker one.
  const sources: Array<ReadonlyArray<{ readonly flag: string; readonly value: string | undefined }>> = [given]
  for (const file of [...files].reverse()) {
    let text: string
    try {
      text = NodeFs.readFileSync(file, "utf8")
    } catch {
      continue
    }
    const tokens = tokenize(text)
    if ("problem" in tokens) {
      return { problem: `${file}, ${tokens.problem}`, fix: "close the quote (quote a value with spaces as --globals '{\"region\": \"eu west\"}')" }
    }
    sources.push(flagsOf(tokens.words))
  }
  const keyOf = (flag: string) => (clusterFlags.has(flag) ? "cluster" : flag)
  const taken = new Set<string>()
  const extra: Array<string> = []
  for (const [i, flags] of sources.entries()) {
    const fromHere = new Set<string>()
    for (const { flag, value } of flags) {
      if (flag === "--config-file" || taken.has(keyOf(flag))) continue // a stronger source set it
      if (fromHere.has(flag) && !repeatable.has(flag)) continue // twice in one file: the first counts
      fromHere.add(flag)
      if (i > 0) extra.push(flag, ...(value === undefined ? [] : [value]))
    }
    for (const flag of fromHere) taken.add(keyOf(flag))
  }
  return { extra }
}
