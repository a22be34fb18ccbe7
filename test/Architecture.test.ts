/**
 * The house rules, checked on the sources (ARCHITECTURE.md draws them): no import cycle at run time in src/, and
 * every import goes down the layers — accounts know no cluster, clusters know no services, services and tests run
 * without the runner, reports read the results model, and nothing below the CLI reads the command line. (A
 * dynamic `import()` counts for the layers, not for cycles: it runs after every module has loaded.)
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import ts from "typescript"
import { describe, expect, it } from "vitest"

const src = NodePath.resolve(import.meta.dirname, "../src")

/**
 * The parts, bottom to top, each with the files it holds (paths relative to src/, without `.ts`; a trailing `/`
 * takes a whole folder) and the parts it may import. The first part whose pattern matches a file holds it.
 */
const parts: ReadonlyArray<{ readonly name: string; readonly files: ReadonlyArray<string>; readonly uses: ReadonlyArray<string> }> = [
  { name: "base", files: ["Shell", "Wait", "internal/shared/"], uses: [] },
  // The results model: what a run produced, read by the reports; services record their faults into it.
  { name: "results", files: ["Results"], uses: ["base"] },
  { name: "remote", files: ["RemoteAccount", "SshAccount", "LocalAccount", "LogMonitor", "internal/remote/"], uses: ["base"] },
  { name: "cluster", files: ["Cluster", "Lab", "Docker", "Sshd", "internal/cluster/"], uses: ["base", "remote"] },
  {
    name: "services",
    files: ["Service", "Template", "Provision", "Fault", "Clean", "internal/service/"],
    uses: ["base", "results", "remote", "cluster"]
  },
  {
    name: "history",
    files: ["History", "Workload", "Model", "Linearizability", "Checker", "internal/history/"],
    uses: ["base", "results", "services"]
  },
  { name: "tests", files: ["Test", "TestContext", "internal/test/"], uses: ["base", "results", "remote", "cluster", "services", "history"] },
  { name: "reports", files: ["Report", "internal/report/"], uses: ["base", "results", "history"] },
  {
    name: "runner",
    files: ["Runner", "Discovery", "internal/runner/"],
    uses: ["base", "results", "remote", "cluster", "services", "history", "tests", "reports"]
  },
  {
    name: "entries",
    files: ["index", "vitest"],
    uses: ["base", "results", "remote", "cluster", "services", "history", "tests", "reports", "runner"]
  },
  {
    name: "cli",
    files: ["Cli", "bin", "internal/cli/"],
    uses: ["base", "results", "remote", "cluster", "services", "history", "tests", "reports", "runner", "entries"]
  }
]

const partOf = (file: string): string | undefined => {
  const rel = NodePath.relative(src, file).replace(/\.ts$/, "")
  return parts.find((p) => p.files.some((f) => (f.endsWith("/") ? rel.startsWith(f) : rel === f)))?.name
}

interface Import {
  readonly from: string
  readonly to: string
  /** Evaluated when `from` is: a static import or re-export that is not type-only. */
  readonly runtime: boolean
}

const sourceFiles = (dir: string): Array<string> =>
  NodeFs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(NodePath.join(dir, e.name)) : e.name.endsWith(".ts") ? [NodePath.join(dir, e.name)] : []
  )

const importsOf = (file: string): Array<Import> => {
  const source = ts.createSourceFile(file, NodeFs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  const found: Array<Import> = []
  const add = (specifier: ts.Expression | undefined, runtime: boolean) => {
    if (specifier === undefined || !ts.isStringLiteral(specifier) || !specifier.text.startsWith(".")) return
    const to = NodePath.resolve(NodePath.dirname(file), specifier.text).replace(/\.js$/, ".ts")
    found.push({ from: file, to, runtime })
  }
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause
      const typeOnly = clause !== undefined && (clause.isTypeOnly ||
        (clause.name === undefined && clause.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) &&
          clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)))
      add(node.moduleSpecifier, !typeOnly)
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, !node.isTypeOnly)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false) // a dynamic import is evaluated later, on demand: no cycle at load
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

const files = sourceFiles(src)
const imports = files.flatMap(importsOf)
const rel = (f: string) => NodePath.relative(src, f)

/** The strongly connected components of the runtime import graph that hold more than one file (Tarjan). */
const runtimeCycles = (): Array<Array<string>> => {
  const edges = new Map<string, Array<string>>()
  for (const i of imports) if (i.runtime) edges.set(i.from, [...(edges.get(i.from) ?? []), i.to])
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const cycles: Array<Array<string>> = []
  const connect = (v: string) => {
    index.set(v, counter)
    low.set(v, counter++)
    stack.push(v)
    onStack.add(v)
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const component: Array<string> = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(rel(w))
      } while (w !== v)
      if (component.length > 1) cycles.push(component.sort())
    }
  }
  for (const f of files) if (!index.has(f)) connect(f)
  return cycles
}

describe("architecture", () => {
  it("every source file belongs to a part", () => {
    expect(files.filter((f) => partOf(f) === undefined).map(rel)).toEqual([])
  })

  it("no import cycle at run time", () => {
    expect(runtimeCycles()).toEqual([])
  })

  it("every import goes to the part itself or to one it may use", () => {
    const across = imports.filter((i) => {
      const from = partOf(i.from)!
      const to = partOf(i.to)!
      return from !== partOf(i.to) && !parts.find((p) => p.name === from)!.uses.includes(to)
    })
    expect(across.map((i) => `${rel(i.from)} (${partOf(i.from)}) -> ${rel(i.to)} (${partOf(i.to)})`)).toEqual([])
  })

  it("nothing below the CLI reads the command line or writes the environment", () => {
    // The entries (the CLI's and vitest's) know which process they run in; nothing else may. Nothing at all writes
    // the environment: what a flag means is passed down.
    const offenders = files.flatMap((f) => {
      const text = NodeFs.readFileSync(f, "utf8")
      const entry = partOf(f) === "cli" || partOf(f) === "entries"
      return [
        ...(!entry && /process\.argv/.test(text) ? [`${rel(f)} reads process.argv`] : []),
        ...(/process\.env(\.\w+|\[[^\]]+\])\s*=[^=]/.test(text) ? [`${rel(f)} writes process.env`] : [])
      ]
    })
    expect(offenders).toEqual([])
  })
})
