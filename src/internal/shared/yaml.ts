/**
 * YAML for test-suite files, read by the `yaml` package (YAML 1.2) and turned into a small tree that keeps each
 * value's line and column for error messages.
 *
 * Scalars stay strings (`1` is `"1"`, the failsafe schema): suite files hold paths and symbols, never numbers; a
 * plain `~`, `null` or empty value is null. Anchors and aliases are resolved; tags are ignored. Syntax errors,
 * duplicate keys and several documents in one file are refused with the line and column.
 *
 * @internal
 */
import { Data, Either } from "effect"
import * as Y from "yaml"

/** A parsed YAML value, with the 1-based line and column it starts on (for error messages). */
export type Node =
  | { readonly _tag: "Null"; readonly line: number; readonly column: number }
  | { readonly _tag: "Scalar"; readonly value: string; readonly line: number; readonly column: number }
  | { readonly _tag: "List"; readonly items: ReadonlyArray<Node>; readonly line: number; readonly column: number }
  | { readonly _tag: "Map"; readonly entries: ReadonlyArray<Entry>; readonly line: number; readonly column: number }

/** One `key: value` of a mapping, in file order. */
export interface Entry {
  readonly key: string
  readonly value: Node
  readonly line: number
}

/** Why a text is not YAML we can use; `line` and `column` are 1-based. */
export class YamlError extends Data.TaggedError("YamlError")<{
  readonly line: number
  readonly column: number
  readonly reason: string
}> {
  override get message(): string {
    return `line ${this.line}, column ${this.column}: ${this.reason}`
  }
}

/** Hints for the library's error codes a person meets most, saying what to change. */
const hints: Partial<Record<Y.ErrorCode, string>> = {
  TAB_AS_INDENT: "YAML indents with spaces only",
  BAD_INDENT: "indent the lines of one block alike",
  BLOCK_AS_IMPLICIT_KEY: "quote a value that contains `: `",
  MULTILINE_IMPLICIT_KEY: "put each `key: value` on one line",
  BAD_DQ_ESCAPE: "write a backslash as \\\\, or use single quotes",
  UNEXPECTED_TOKEN: "check the line for a stray character"
}

/** Parses one YAML document. */
export const parse = (text: string): Either.Either<Node, YamlError> => {
  const lineCounter = new Y.LineCounter()
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset)
    return { line, column: col }
  }
  const docs = Y.parseAllDocuments(text, { lineCounter, schema: "failsafe", uniqueKeys: false, prettyErrors: false })
  if (!Array.isArray(docs)) return Either.right({ _tag: "Null", line: 1, column: 1 }) // only comments, or nothing
  for (const doc of docs) {
    const e = doc.errors[0]
    if (e !== undefined) {
      const hint = e.code === "MISSING_CHAR" && /quote|flow|\]|\}/i.test(e.message) ? "close it on the same value" : hints[e.code]
      const reason = e.message.split("\n")[0]! + (hint === undefined ? "" : `; ${hint}`)
      return Either.left(new YamlError({ ...at(e.pos[0]), reason }))
    }
  }
  const [doc, second] = docs
  if (second !== undefined) {
    return Either.left(
      new YamlError({ ...at(second.range[0]), reason: "several YAML documents in one file are not supported; use one file per document" })
    )
  }
  if (doc === undefined || doc.contents === null) return Either.right({ _tag: "Null", line: 1, column: 1 })

  const converting = new Set<unknown>()
  const convert = (node: unknown, fallback: number): Node | YamlError => {
    const pos = at((node as { range?: [number, number, number] } | null)?.range?.[0] ?? fallback)
    if (node === null || node === undefined) return { _tag: "Null", ...pos }
    if (Y.isAlias(node)) {
      const target = node.resolve(doc)
      if (target === undefined) return new YamlError({ ...pos, reason: `the anchor &${node.source} is not defined before this alias` })
      if (converting.has(target)) return new YamlError({ ...pos, reason: `the alias *${node.source} refers to itself` })
      return convert(target, fallback)
    }
    if (Y.isScalar(node)) {
      const value = String(node.value ?? "")
      const isNull = node.type === "PLAIN" && (value === "" || value === "~" || /^(null|Null|NULL)$/.test(value))
      return isNull ? { _tag: "Null", ...pos } : { _tag: "Scalar", value, ...pos }
    }
    converting.add(node)
    try {
      if (Y.isSeq(node)) {
        const items: Array<Node> = []
        for (const item of node.items) {
          const n = convert(item, pos.line)
          if (n instanceof YamlError) return n
          items.push(n)
        }
        return { _tag: "List", items, ...pos }
      }
      if (Y.isMap(node)) {
        const entries: Array<Entry> = []
        const firstLine = new Map<string, number>()
        for (const pair of node.items) {
          const keyPos = at((pair.key as { range?: [number, number, number] } | null)?.range?.[0] ?? node.range?.[0] ?? 0)
          if (!Y.isScalar(pair.key) || pair.key.value === null || pair.key.value === undefined) {
            return new YamlError({ ...keyPos, reason: "a key must be plain text; quote it if it holds special characters" })
          }
          const key = String(pair.key.value)
          const first = firstLine.get(key)
          if (first !== undefined) {
            return new YamlError({ ...keyPos, reason: `duplicate key ${JSON.stringify(key)} (first defined on line ${first})` })
          }
          firstLine.set(key, keyPos.line)
          const value = convert(pair.value, (pair.key.range?.[1] ?? 0))
          if (value instanceof YamlError) return value
          entries.push({ key, value, line: keyPos.line })
        }
        return { _tag: "Map", entries, ...pos }
      }
    } finally {
      converting.delete(node)
    }
    return new YamlError({ ...pos, reason: "a kind of value suite files do not use" })
  }
  const root = convert(doc.contents, 0)
  return root instanceof YamlError ? Either.left(root) : Either.right(root)
}

/** A human name for a node's kind, for messages such as "expected a list, found a mapping". */
export const kindOf = (node: Node): string =>
  node._tag === "Null" ? "nothing" : node._tag === "Scalar" ? `the text ${JSON.stringify(node.value)}` :
  node._tag === "List" ? "a list" : "a mapping"
