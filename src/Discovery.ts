/**
 * Test discovery and selection: from command-line paths, symbols and test-suite YAML files to the ordered list of
 * test cases to run.
 *
 * - A directory is walked recursively for `*.ducktape.ts` (`.mts`, `.js`, `.mjs`) files, skipping `node_modules`,
 *   dot-directories and `results/`; a file named explicitly may have any name; `*`, `?` and `**` globs select
 *   directories and test files.
 * - Symbols: `file::Suite`, `file::Suite.test`, `file::test` (a bare exported test), and
 *   `file::Suite.test@{"k":1}` or `@[{"k":1},{"k":2}]` to pick existing cases by their parameters.
 * - `*.yml` suite files (ducktape's format): `import:` other suite files, and `name: [symbols…]` or
 *   `name: {included: […], excluded: […]}` per suite.
 *
 * Unlike ducktape, a file that fails to import is not skipped (it is returned as a load failure that the runner
 * reports as a failed test), a selection naming something that does not exist is an error that lists what does
 * exist, and cases keep their declaration order (`i=2` before `i=10`).
 *
 * @since 0.1.0
 */
import type { Effect, Either } from "effect"
import { Schema } from "effect"
import * as internal from "./internal/runner/discovery/discovery.js"
import * as names from "./internal/runner/discovery/names.js"
import * as symbols from "./internal/runner/discovery/symbols.js"
import type { Params, TestCase } from "./Test.js"
import { DiscoveryError } from "./internal/runner/errors.js"

export { DiscoveryError } from "./internal/runner/errors.js"

/**
 * What to run: the command line's paths/symbols/suite files, `--exclude`, `--parameters`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Selection {
  /** Files, directories, globs, symbols and `.yml` suite files; empty means the working directory. */
  readonly paths: ReadonlyArray<string>
  /** Symbols excluded everywhere, suites included. */
  readonly exclude?: ReadonlyArray<string>
  /** Replaces every selected test's cases with exactly this one (`--parameters`). */
  readonly parameters?: Params
  /** What relative paths and module names are relative to; default `process.cwd()`. */
  readonly cwd?: string
  /** Variables that tests' env gates see on top of `process.env` (e.g. DUCKTAPE_LAB=1 for a lab's cluster file). */
  readonly env?: Readonly<Record<string, string>>
}

/**
 * A test file that could not be imported, or that exports no tests: reported as a failed test.
 *
 * @since 0.1.0
 * @category models
 */
export interface LoadFailure {
  /** Absolute path of the file. */
  readonly file: string
  /** Its module name (`examples.zookeeper`), the id the runner reports the failure under. */
  readonly module: string
  /** The file as a symbol relative to the working directory, to rerun it. */
  readonly symbol: string
  readonly error: string
}

/**
 * The result of discovery: the cases to run in order, and the files that failed to load.
 *
 * @since 0.1.0
 * @category models
 */
export interface Discovered {
  readonly cases: ReadonlyArray<TestCase>
  readonly loadFailures: ReadonlyArray<LoadFailure>
}

/**
 * A parsed selection symbol: `path[::name[.test]][@params]`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParsedSymbol {
  /** The file, directory or glob part (may be empty only when the symbol was `::…`, which is an error). */
  readonly path: string
  /** A suite name, or a bare test's name (`::name`). */
  readonly name: string | undefined
  /** A test within the suite (`::Suite.test`). */
  readonly test: string | undefined
  /** Only the existing cases whose parameters equal one of these (`@{…}` / `@[{…},…]`). */
  readonly params: ReadonlyArray<Params> | undefined
}

/**
 * Finds, loads and selects the test cases a selection names.
 *
 * @since 0.1.0
 * @category utils
 */
export const discover: (selection: Selection) => Effect.Effect<Discovered, DiscoveryError> = internal.discover

/**
 * Parses `path[::Suite[.test]][@json]`; invalid parameter JSON is a DiscoveryError naming the symbol.
 *
 * @since 0.1.0
 * @category utils
 */
export const parseSymbol: (text: string) => Either.Either<ParsedSymbol, DiscoveryError> = symbols.parseSymbol

/**
 * The symbol that reruns exactly this case: `relative/file.ducktape.ts::Suite.test@{"k":1}`.
 *
 * @since 0.1.0
 * @category utils
 */
export const symbolOf: (testCase: TestCase, cwd?: string) => string = symbols.symbolOf

/**
 * A file's module name: its path relative to `cwd` without the `.ducktape.ts` suffix, `/` → `.`.
 *
 * @since 0.1.0
 * @category utils
 */
export const moduleName: (file: string, cwd?: string) => string = names.moduleName

/**
 * Whether a file name follows the test-file naming rule (`*.ducktape.ts`, `.mts`, `.js`, `.mjs`).
 *
 * @since 0.1.0
 * @category guards
 */
export const isTestFileName: (name: string) => boolean = names.isTestFileName
