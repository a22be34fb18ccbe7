/**
 * Config files from mustache templates, strictly: a variable the template uses but the view lacks is an error
 * (mustache's default of rendering "" hides bugs), and nothing is HTML-escaped (these are config files).
 *
 * Templates are looked up in the `templates/` folder next to the module that asks (pass its `import.meta.url`),
 * then in the project's top-level `templates/` (relative to the current directory).
 *
 * @since 0.1.0
 */
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { Effect, Either, Schema } from "effect"
import Mustache from "mustache"

/**
 * A template could not be found or rendered.
 *
 * @since 0.1.0
 * @category errors
 */
export class TemplateError extends Schema.TaggedError<TemplateError>()("TemplateError", {
  template: Schema.String,
  problem: Schema.String,
  fix: Schema.String
}) {
  override get message(): string {
    return `template ${this.template}: ${this.problem}\n  fix: ${this.fix}`
  }
}

/**
 * Where to look for template files.
 *
 * @since 0.1.0
 * @category models
 */
export interface LookupOptions {
  /** The asking module's `import.meta.url` (or a directory): its sibling `templates/` is searched first. */
  readonly from?: string
  /** More directories to search, after the module's and before the project's. */
  readonly dirs?: ReadonlyArray<string>
}

type Token = [string, string, number, number, Array<Token>?]

const isMissing = (v: unknown) => v === undefined || v === null

/**
 * Finds `name` (dotted) through the context stack, innermost first, as mustache does. `found`: it has a value to
 * print; `present`: the view names it, perhaps as null (enough for a section, which null simply skips).
 */
const lookup = (stack: ReadonlyArray<unknown>, name: string): { found: boolean; present: boolean; value: unknown } => {
  if (name === ".") return { found: true, present: true, value: stack[stack.length - 1] }
  const [head, ...rest] = name.split(".")
  for (let i = stack.length - 1; i >= 0; i--) {
    const ctx = stack[i]
    if (ctx !== null && typeof ctx === "object" && head! in ctx) {
      let value: unknown = (ctx as Record<string, unknown>)[head!]
      for (const key of rest) {
        if (value === null || typeof value !== "object" || !(key in value)) return { found: false, present: false, value: undefined }
        value = (value as Record<string, unknown>)[key]
      }
      return { found: !isMissing(value), present: true, value }
    }
  }
  return { found: false, present: false, value: undefined }
}

/** Names the template uses that the view does not provide (in order of first use). */
const missingNames = (tokens: ReadonlyArray<Token>, stack: ReadonlyArray<unknown>, out: Set<string>): void => {
  for (const token of tokens) {
    const [type, name] = token
    if (type === "name" || type === "&") {
      if (!lookup(stack, name).found) out.add(name)
    } else if (type === "#") {
      const { present, value } = lookup(stack, name)
      if (!present) {
        out.add(name)
        continue
      }
      const inner = token[4] ?? []
      if (isMissing(value)) continue
      if (Array.isArray(value)) for (const item of value) missingNames(inner, [...stack, item], out)
      else if (typeof value === "object") missingNames(inner, [...stack, value], out)
      else if (value) missingNames(inner, stack, out)
    } else if (type === "^") {
      // An inverted section exists to handle an absent value; its body renders with the same context.
      if (!lookup(stack, name).value) missingNames(token[4] ?? [], stack, out)
    } else if (type === ">") {
      out.add(`> ${name} (partials are not supported)`)
    }
  }
}

/**
 * Renders template text with a view; fails on any variable the view lacks.
 *
 * @since 0.1.0
 * @category utils
 */
export const renderString = (text: string, view: object, name = "(inline)"): Either.Either<string, TemplateError> => {
  let tokens: Array<Token>
  try {
    tokens = Mustache.parse(text) as Array<Token>
  } catch (e) {
    return Either.left(new TemplateError({ template: name, problem: `cannot parse: ${(e as Error).message}`, fix: "fix the template syntax" }))
  }
  const missing = new Set<string>()
  missingNames(tokens, [view], missing)
  if (missing.size > 0) {
    return Either.left(
      new TemplateError({
        template: name,
        problem: `the view has no value for ${[...missing].map((m) => JSON.stringify(m)).join(", ")}`,
        fix: `pass ${missing.size === 1 ? "it" : "them"} to render (e.g. render(name, { ...view, ${[...missing][0]}: … }))`
      })
    )
  }
  return Either.right(Mustache.render(text, view, undefined, { escape: (v: unknown) => String(v) }))
}

/**
 * The directories searched for a template, in order.
 *
 * @since 0.1.0
 * @category utils
 */
export const searchPath = (options: LookupOptions = {}): ReadonlyArray<string> => {
  const dirs: Array<string> = []
  if (options.from !== undefined) {
    const from = options.from.startsWith("file:") ? NodeUrl.fileURLToPath(options.from) : options.from
    dirs.push(NodePath.join(options.from.startsWith("file:") ? NodePath.dirname(from) : from, "templates"))
  }
  dirs.push(...(options.dirs ?? []))
  dirs.push(NodePath.resolve("templates"))
  return [...new Set(dirs)]
}

/**
 * Reads a template file by name from the search path.
 *
 * @since 0.1.0
 * @category utils
 */
export const load = (name: string, options: LookupOptions = {}): Effect.Effect<string, TemplateError> =>
  Effect.gen(function*() {
    const dirs = searchPath(options)
    for (const dir of dirs) {
      const text = yield* Effect.promise(() => NodeFs.readFile(NodePath.join(dir, name), "utf8").catch(() => undefined))
      if (text !== undefined) return text
    }
    return yield* Effect.fail(
      new TemplateError({
        template: name,
        problem: `not found; looked in:\n${dirs.map((d) => `    ${d}`).join("\n")}`,
        fix: `create ${NodePath.join(dirs[0]!, name)} (or check the name)`
      })
    )
  })

/**
 * Loads a template by name and renders it with the view.
 *
 * @since 0.1.0
 * @category utils
 */
export const render = (name: string, view: object, options: LookupOptions = {}): Effect.Effect<string, TemplateError> =>
  Effect.flatMap(load(name, options), (text) => renderString(text, view, name))
