/**
 * A parser for the small YAML subset that test-suite files use: block mappings, block lists (`- x`), flow lists
 * (`[a, b]`, may span lines), plain, single- and double-quoted scalars, and comments. Everything else (anchors,
 * tags, block scalars, flow mappings, several documents) is refused with a line number and a hint, rather than
 * guessed at: a suite file that parses differently here than in a real YAML parser would select the wrong tests.
 *
 * Scalars stay strings (`1` is `"1"`): suite files hold paths and symbols, never numbers; `~`, `null` and an
 * empty value are null.
 *
 * @internal
 */
import { Data, Either } from "effect"

/** A parsed YAML value, with the 1-based line it starts on (for error messages). */
export type Node =
  | { readonly _tag: "Null"; readonly line: number }
  | { readonly _tag: "Scalar"; readonly value: string; readonly line: number }
  | { readonly _tag: "List"; readonly items: ReadonlyArray<Node>; readonly line: number }
  | { readonly _tag: "Map"; readonly entries: ReadonlyArray<Entry>; readonly line: number }

/** One `key: value` of a mapping, in file order. */
export interface Entry {
  readonly key: string
  readonly value: Node
  readonly line: number
}

/** Why a text is not (supported) YAML; `line` and `column` are 1-based. */
export class YamlError extends Data.TaggedError("YamlError")<{
  readonly line: number
  readonly column: number
  readonly reason: string
}> {
  override get message(): string {
    return `line ${this.line}, column ${this.column}: ${this.reason}`
  }
}

/** Parses one YAML document of the supported subset. */
export const parse = (text: string): Either.Either<Node, YamlError> => {
  const result = new Parser(text.replace(/^\uFEFF/, "").split(/\r?\n/)).document()
  return result instanceof YamlError ? Either.left(result) : Either.right(result)
}

/** A human name for a node's kind, for messages such as "expected a list, found a mapping". */
export const kindOf = (node: Node): string =>
  node._tag === "Null" ? "nothing" : node._tag === "Scalar" ? `the text ${JSON.stringify(node.value)}` :
  node._tag === "List" ? "a list" : "a mapping"

type Result<A> = A | YamlError

const quoteHint = "quote the value ('…' or \"…\") if it is meant as text"

/** Characters that cannot start a plain scalar, with what they would mean in full YAML. */
const reservedStart: Readonly<Record<string, string>> = {
  "{": "flow mappings `{…}` are not supported; write a block mapping (`key: value` lines) instead",
  "|": "block scalars (`|`) are not supported; put the value on one line",
  ">": "folded scalars (`>`) are not supported; put the value on one line",
  "&": `anchors (\`&\`) are not supported; ${quoteHint}`,
  "*": `aliases (\`*\`) are not supported; ${quoteHint}`,
  "!": `tags (\`!\`) are not supported; ${quoteHint}`,
  "%": `directives (\`%\`) are not supported; ${quoteHint}`,
  "@": `\`@\` cannot start a plain value; ${quoteHint}`,
  "`": `\`\`\` cannot start a plain value; ${quoteHint}`,
  "?": "complex keys (`?`) are not supported"
}

const isNullText = (s: string) => s === "" || s === "~" || s === "null" || s === "Null" || s === "NULL"

class Parser {
  private i = 0

  constructor(private readonly lines: ReadonlyArray<string>) {}

  private err(lineIdx: number, col: number, reason: string): YamlError {
    return new YamlError({ line: lineIdx + 1, column: col + 1, reason })
  }

  /** A line with only whitespace and/or a comment. */
  private blank(idx: number): boolean {
    return /^\s*(#.*)?$/.test(this.lines[idx] ?? "")
  }

  /** Moves to the next significant line; returns false at the end of the text. */
  private skipBlank(): boolean {
    while (this.i < this.lines.length && this.blank(this.i)) this.i++
    return this.i < this.lines.length
  }

  private indent(idx: number): Result<number> {
    const raw = this.lines[idx] ?? ""
    const lead = /^[ \t]*/.exec(raw)?.[0] ?? ""
    const tab = lead.indexOf("\t")
    return tab >= 0 ? this.err(idx, tab, "a tab in the indentation; YAML indents with spaces only") : lead.length
  }

  private unexpectedIndent(at: number, indent: number): YamlError {
    return this.err(this.i, at,
      `unexpected indentation (${at} spaces where this block is at ${indent}): a value continued on the next line? ` +
        "put it on one line, or quote it")
  }

  private isMarker(idx: number, marker: "---" | "..."): boolean {
    const raw = this.lines[idx] ?? ""
    return raw === marker || raw.startsWith(marker + " ") || raw.startsWith(marker + "\t")
  }

  private static isListItem(content: string): boolean {
    return content === "-" || content.startsWith("- ") || content.startsWith("-\t")
  }

  document(): Result<Node> {
    if (!this.skipBlank()) return { _tag: "Null", line: 1 }
    if (this.isMarker(this.i, "---")) {
      const rest = (this.lines[this.i] ?? "").slice(3)
      if (!/^\s*(#.*)?$/.test(rest)) {
        return this.err(this.i, 4, "content after `---` on the same line is not supported; start it on the next line")
      }
      this.i++
      if (!this.skipBlank()) return { _tag: "Null", line: this.i }
    }
    const indent = this.indent(this.i)
    if (indent instanceof YamlError) return indent
    const node = this.block(indent)
    if (node instanceof YamlError) return node
    if (this.skipBlank()) {
      if (this.isMarker(this.i, "...")) {
        this.i++
        if (!this.skipBlank()) return node
      }
      if (this.isMarker(this.i, "---")) {
        return this.err(this.i, 0, "several YAML documents in one file are not supported; use one file per document")
      }
      const at = this.indent(this.i)
      if (at instanceof YamlError) return at
      return this.err(this.i, at, `this line's indentation (${at}) matches no enclosing block (the first line has ${indent})`)
    }
    return node
  }

  /** A block value whose first line is the current one, at `indent`. */
  private block(indent: number): Result<Node> {
    const content = (this.lines[this.i] ?? "").slice(indent)
    if (Parser.isListItem(content)) return this.list(indent)
    if (/^\s*(#.*)?$/.test(content) === false && !this.looksLikeKey(this.i, indent)) {
      // A lone scalar (a document that is just text, or an item's nested value).
      const line = this.i
      const value = this.inline(line, indent, "value")
      if (value instanceof YamlError) return value
      this.i = value.endLine + 1
      return value.node
    }
    return this.map(indent)
  }

  private looksLikeKey(idx: number, col: number): boolean {
    return !(this.key(idx, col) instanceof YamlError)
  }

  private list(indent: number): Result<Node> {
    const items: Array<Node> = []
    const startLine = this.i + 1
    while (this.skipBlank()) {
      const at = this.indent(this.i)
      if (at instanceof YamlError) return at
      if (at < indent) break
      const raw = this.lines[this.i] ?? ""
      if (at > indent) {
        return this.unexpectedIndent(at, indent)
      }
      if (!Parser.isListItem(raw.slice(at))) break
      let col = at + 1
      while (raw[col] === " " || raw[col] === "\t") col++
      const itemLine = this.i
      if (/^\s*(#.*)?$/.test(raw.slice(col))) {
        this.i++
        if (this.skipBlank()) {
          const nested = this.indent(this.i)
          if (nested instanceof YamlError) return nested
          if (nested > indent) {
            const node = this.block(nested)
            if (node instanceof YamlError) return node
            items.push(node)
            continue
          }
        }
        items.push({ _tag: "Null", line: itemLine + 1 })
        continue
      }
      if (raw[col] !== "[" && raw[col] !== "\"" && raw[col] !== "'" && this.looksLikeKey(itemLine, col)) {
        return this.err(itemLine, col,
          "a mapping inside a list item is not supported; if this is a symbol containing `: `, quote it ('…')")
      }
      const value = this.inline(itemLine, col, "list item")
      if (value instanceof YamlError) return value
      items.push(value.node)
      this.i = value.endLine + 1
    }
    return { _tag: "List", items, line: startLine }
  }

  private map(indent: number): Result<Node> {
    const entries: Array<Entry> = []
    const firstLine = new Map<string, number>()
    const startLine = this.i + 1
    while (this.skipBlank()) {
      const at = this.indent(this.i)
      if (at instanceof YamlError) return at
      if (at < indent) break
      if (this.isMarker(this.i, "---") || this.isMarker(this.i, "...")) break
      if (at > indent) {
        return this.unexpectedIndent(at, indent)
      }
      const raw = this.lines[this.i] ?? ""
      if (Parser.isListItem(raw.slice(at))) {
        return this.err(this.i, at, "a list item where a `key: value` line was expected (indent the list under its key)")
      }
      const keyLine = this.i
      const key = this.key(keyLine, at)
      if (key instanceof YamlError) return key
      const previous = firstLine.get(key.key)
      if (previous !== undefined) {
        return this.err(keyLine, at, `duplicate key ${JSON.stringify(key.key)} (first defined on line ${previous})`)
      }
      firstLine.set(key.key, keyLine + 1)
      let col = key.end
      while (raw[col] === " " || raw[col] === "\t") col++
      let value: Node
      if (/^\s*(#.*)?$/.test(raw.slice(col))) {
        this.i++
        value = { _tag: "Null", line: keyLine + 1 }
        if (this.skipBlank()) {
          const nested = this.indent(this.i)
          if (nested instanceof YamlError) return nested
          const content = (this.lines[this.i] ?? "").slice(nested)
          if (nested > indent) {
            const node = this.block(nested)
            if (node instanceof YamlError) return node
            value = node
          } else if (nested === indent && Parser.isListItem(content)) {
            // `key:` followed by `- item` lines at the key's own indentation is valid YAML.
            const node = this.list(indent)
            if (node instanceof YamlError) return node
            value = node
          }
        }
      } else {
        const inline = this.inline(keyLine, col, "value")
        if (inline instanceof YamlError) return inline
        value = inline.node
        this.i = inline.endLine + 1
      }
      entries.push({ key: key.key, value, line: keyLine + 1 })
    }
    return { _tag: "Map", entries, line: startLine }
  }

  /** `key:` at (idx, col): a quoted key, or plain text up to the first `:` followed by a space or the line end. */
  private key(idx: number, col: number): Result<{ key: string; end: number }> {
    const raw = this.lines[idx] ?? ""
    const c = raw[col]
    if (c === "\"" || c === "'") {
      const q = this.quoted(idx, col)
      if (q instanceof YamlError) return q
      if (raw[q.end] !== ":") return this.err(idx, q.end, "expected `:` after a quoted key")
      return { key: q.value, end: q.end + 1 }
    }
    const m = /:(?=\s|$)/.exec(raw.slice(col))
    const text = m === null ? undefined : raw.slice(col, col + m.index).trimEnd()
    if (m === null || text === undefined || text === "" || / #/.test(raw.slice(col, col + m.index))) {
      return this.err(idx, col, "expected `key: value` (or `key:` followed by an indented block)")
    }
    return { key: text, end: col + m.index + 1 }
  }

  /** A value that starts on this line at `col`: a flow list (may span lines), a quoted or a plain scalar. */
  private inline(idx: number, col: number, context: "value" | "list item"): Result<{ node: Node; endLine: number }> {
    const raw = this.lines[idx] ?? ""
    const c = raw[col] ?? ""
    if (c === "[") {
      const flow = this.flow(idx, col)
      if (flow instanceof YamlError) return flow
      const rest = (this.lines[flow.line] ?? "").slice(flow.col)
      if (!/^\s*(#.*)?$/.test(rest)) return this.err(flow.line, flow.col, "unexpected text after the closing `]`")
      return { node: flow.node, endLine: flow.line }
    }
    if (c === "\"" || c === "'") {
      const q = this.quoted(idx, col)
      if (q instanceof YamlError) return q
      const rest = raw.slice(q.end)
      if (!/^\s*(#.*)?$/.test(rest)) {
        return this.err(idx, q.end, "unexpected text after the closing quote (quote the whole value)")
      }
      return { node: { _tag: "Scalar", value: q.value, line: idx + 1 }, endLine: idx }
    }
    const reserved = reservedStart[c]
    if (reserved !== undefined) return this.err(idx, col, reserved)
    const comment = /\s#/.exec(raw.slice(col))
    const text = (comment === null ? raw.slice(col) : raw.slice(col, col + comment.index)).trim()
    const colon = /:(\s|$)/.exec(text)
    if (colon !== null) {
      return this.err(idx, col + colon.index,
        `a plain ${context} cannot contain \`: \` (it would start a mapping); ${quoteHint}`)
    }
    return {
      node: isNullText(text) ? { _tag: "Null", line: idx + 1 } : { _tag: "Scalar", value: text, line: idx + 1 },
      endLine: idx
    }
  }

  /** A quoted scalar on one line; returns its value and the column after the closing quote. */
  private quoted(idx: number, col: number): Result<{ value: string; end: number }> {
    const raw = this.lines[idx] ?? ""
    const q = raw[col]
    let out = ""
    let k = col + 1
    while (k < raw.length) {
      const c = raw[k]!
      if (q === "'") {
        if (c === "'") {
          if (raw[k + 1] === "'") {
            out += "'"
            k += 2
            continue
          }
          return { value: out, end: k + 1 }
        }
        out += c
        k++
        continue
      }
      if (c === "\"") return { value: out, end: k + 1 }
      if (c !== "\\") {
        out += c
        k++
        continue
      }
      const e = raw[k + 1]
      const simple: Readonly<Record<string, string>> = {
        "\"": "\"", "\\": "\\", "/": "/", n: "\n", t: "\t", r: "\r", "0": "\0", " ": " ", b: "\b", f: "\f"
      }
      if (e !== undefined && simple[e] !== undefined) {
        out += simple[e]
        k += 2
        continue
      }
      const hex = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0
      const digits = raw.slice(k + 2, k + 2 + hex)
      if (hex > 0 && digits.length === hex && /^[0-9a-fA-F]+$/.test(digits)) {
        const code = parseInt(digits, 16)
        if (code > 0x10ffff) return this.err(idx, k, `escape \\${e}${digits} is not a Unicode code point`)
        out += String.fromCodePoint(code)
        k += 2 + hex
        continue
      }
      return this.err(idx, k, `unknown escape \`\\${e ?? ""}\` in a double-quoted string (write \\\\ for a backslash, or use single quotes)`)
    }
    return this.err(idx, col, `unterminated ${q === "'" ? "single" : "double"}-quoted string (quoted values must end on the same line)`)
  }

  /** A flow list starting at the `[` at (idx, col); may span lines. Returns the position after its `]`. */
  private flow(idx: number, col: number): Result<{ node: Node; line: number; col: number }> {
    const items: Array<Node> = []
    let line = idx
    let k = col + 1
    const skip = () => {
      for (;;) {
        const raw = this.lines[line]
        if (raw === undefined) return
        while (raw[k] === " " || raw[k] === "\t") k++
        if (k >= raw.length || (raw[k] === "#" && (k === 0 || /\s/.test(raw[k - 1]!)))) {
          line++
          k = 0
          continue
        }
        return
      }
    }
    for (;;) {
      skip()
      const raw = this.lines[line]
      if (raw === undefined) return this.err(idx, col, "this `[` is never closed with `]`")
      const c = raw[k]!
      if (c === "]") return { node: { _tag: "List", items, line: idx + 1 }, line, col: k + 1 }
      if (c === ",") return this.err(line, k, "an empty item in a flow list (two commas, or a comma right after `[`)")
      if (c === "[") {
        const inner = this.flow(line, k)
        if (inner instanceof YamlError) return inner
        items.push(inner.node)
        line = inner.line
        k = inner.col
      } else if (c === "\"" || c === "'") {
        const q = this.quoted(line, k)
        if (q instanceof YamlError) return q
        items.push({ _tag: "Scalar", value: q.value, line: line + 1 })
        k = q.end
      } else {
        const reserved = reservedStart[c]
        if (reserved !== undefined) return this.err(line, k, reserved)
        const start = k
        while (k < raw.length && raw[k] !== "," && raw[k] !== "]" && !(raw[k] === "#" && /\s/.test(raw[k - 1] ?? ""))) k++
        const text = raw.slice(start, k).trim()
        const colon = /:(\s|$)/.exec(text)
        if (colon !== null) {
          return this.err(line, start + colon.index, `a plain list item cannot contain \`: \`; ${quoteHint}`)
        }
        items.push(isNullText(text) ? { _tag: "Null", line: line + 1 } : { _tag: "Scalar", value: text, line: line + 1 })
      }
      skip()
      const after = this.lines[line]
      if (after === undefined) return this.err(idx, col, "this `[` is never closed with `]`")
      if (after[k] === ",") {
        k++
        continue
      }
      if (after[k] === "]") continue
      return this.err(line, k, "expected `,` or `]` in a flow list")
    }
  }
}
