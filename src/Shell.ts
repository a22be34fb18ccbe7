/**
 * Building shell command lines from values. Every command line the framework builds from a value (a path,
 * a pattern, a user's argv) goes through `quote`, so that no value is ever spliced raw into a shell.
 *
 * @since 0.1.0
 */

/**
 * A command: a shell line written by the user, or an argv array quoted safely for them.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = string | ReadonlyArray<string>

const safeWord = /^[A-Za-z0-9_@%+=:,./-]+$/

/**
 * Quotes one value for a POSIX shell (single quotes; an embedded quote becomes '\'').
 *
 * @since 0.1.0
 * @category utils
 */
export const quote = (value: string): string =>
  value === "" ? "''" : safeWord.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`

/**
 * Quotes each word of an argv and joins them into one shell line.
 *
 * @since 0.1.0
 * @category utils
 */
export const join = (argv: ReadonlyArray<string>): string => argv.map(quote).join(" ")

/**
 * A shell line for a command: a string is taken as the user wrote it, an argv is quoted.
 *
 * @since 0.1.0
 * @category utils
 */
export const toLine = (command: Command): string => (typeof command === "string" ? command : join(command))
