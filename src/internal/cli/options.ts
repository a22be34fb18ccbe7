/**
 * @effect/cli's Options made from the flag table in flags.ts, so that a flag's name, description and default are
 * written once: --help is rendered from the table, and parsing takes its defaults from it. Cli.ts still names each
 * flag's kind (text, integer, optional…) because that is what gives the parsed flags their types.
 */
import * as Options from "@effect/cli/Options"
import type * as Option from "effect/Option"
import { commands, type Flag } from "./flags.js"

/** The flags of one command (its path: [] for `ducktape`, ["lab", "up"], …), by name. */
export const flagsOf = (path: ReadonlyArray<string>) => {
  const command = commands.find((c) => c.path.join(" ") === path.join(" "))
  if (command === undefined) throw new Error(`internal/cli/flags.ts has no command "${path.join(" ")}"`)
  const flag = (name: string): Flag => {
    const found = command.flags.find((f) => f.name === name)
    if (found === undefined) throw new Error(`internal/cli/flags.ts has no flag --${name} for "ducktape ${path.join(" ")}"`)
    return found
  }
  const defaultOf = (name: string): string => {
    const value = flag(name).default
    if (value === undefined) throw new Error(`internal/cli/flags.ts gives --${name} no default`)
    return value
  }
  const described = <A>(options: Options.Options<A>, name: string) => Options.withDescription(options, flag(name).description)
  return {
    /** A yes/no flag: absent is false. */
    boolean: (name: string): Options.Options<boolean> => described(Options.boolean(name), name),
    /** A text flag whose absence the command handles itself (its help default says what absence means). */
    text: (name: string): Options.Options<Option.Option<string>> => Options.optional(described(Options.text(name), name)),
    /** A text flag that is its table default when absent. */
    textOrDefault: (name: string): Options.Options<string> => Options.withDefault(described(Options.text(name), name), defaultOf(name)),
    /** A repeatable text flag. */
    texts: (name: string): Options.Options<Array<string>> => Options.repeated(described(Options.text(name), name)),
    /** An integer flag whose absence the command handles itself. */
    integer: (name: string): Options.Options<Option.Option<number>> => Options.optional(described(Options.integer(name), name)),
    /** An integer flag that is its table default when absent. */
    integerOrDefault: (name: string): Options.Options<number> =>
      Options.withDefault(described(Options.integer(name), name), Number(defaultOf(name)))
  }
}
