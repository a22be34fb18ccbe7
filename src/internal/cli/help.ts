/** `--help` and `--version`, answered from the flag table alone: no Effect, no runner, no ssh. */
import { commandOf, helpText, useColor } from "./flags.js"
import { version } from "./version.js"

/** The text `ducktape … --help` or `--version` prints, if the command line asks for either. */
export const helpOrVersion = (given: ReadonlyArray<string>): string | undefined => {
  const { command, rest } = commandOf(given)
  const end = rest.indexOf("--")
  const flags = end < 0 ? rest : rest.slice(0, end)
  if (flags.includes("--help") || flags.includes("-h")) return helpText(command, version, useColor(process.stdout))
  if (flags.includes("--version")) return `ducktape ${version}\n`
  return undefined
}
