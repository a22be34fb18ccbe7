/** How a rerun of a session's failed tests starts: the CLI knows its flags; the reports print what it says. */
import * as Shell from "../../Shell.js"
import { runFlags } from "./flags.js"

/** Flags that select what runs: a rerun of the failed tests names the tests instead, and drops these. */
const selectionFlags: ReadonlySet<string> = new Set([
  "exclude", "collect-only", "collect-num-nodes", "subsets", "subset", "historical-report", "sample", "repeat", "config-file"
])

/**
 * What a rerun must repeat from the session's command line (argv: `NAME=value` environment first, then the
 * arguments, config files' flags included): the environment, then every flag but those that select tests
 * (the cluster, globals, timeouts…). Paths are dropped: the rerun names the failed tests.
 */
export const rerunPrefix = (argv: ReadonlyArray<string>): string => {
  const env: Array<string> = []
  const flags: Array<string> = []
  let i = 0
  for (; i < argv.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[i]!); i++) env.push(argv[i]!)
  for (; i < argv.length; i++) {
    const token = argv[i]!
    if (token === "--") break
    if (!token.startsWith("--")) continue
    const eq = token.indexOf("=")
    const name = token.slice(2, eq > 0 ? eq : undefined)
    const flag = runFlags.find((f) => f.name === name)
    const value = flag === undefined || flag.type === "boolean" || eq > 0 ? undefined : argv[++i]
    if (flag === undefined || selectionFlags.has(name)) continue
    flags.push(token, ...(value === undefined ? [] : [value]))
  }
  const words = [...env.map((e) => { const at = e.indexOf("="); return `${e.slice(0, at)}=${Shell.quote(e.slice(at + 1))}` }), "npx ducktape", ...flags.map(Shell.quote)]
  return words.join(" ")
}

