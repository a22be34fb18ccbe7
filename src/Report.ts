/**
 * The session reports: `report.txt` (also printed to the terminal), `report.json` (the results model itself),
 * `report.xml` (JUnit for CI), `report.html` (one self-contained file, no network), `timeline.svg` (the session
 * timeline as an image for CI systems) and `rerun-failed.yml`.
 *
 * Every report reads only the results model (`Results.SessionResults`), so a merged or historical
 * `report.json` renders exactly like a fresh run.
 *
 * @since 0.1.0
 */
import type { Effect, Either } from "effect"
import { Schema } from "effect"
import * as internal from "./internal/report/report.js"
import * as html_ from "./internal/report/reportHtml.js"
import * as junit_ from "./internal/report/reportJunit.js"
import * as timeline_ from "./internal/report/reportTimeline.js"
import * as text_ from "./internal/report/reportText.js"
import { byStatus } from "./internal/report/reportFormat.js"
import type { SessionResults } from "./Results.js"
import { ReportError, fileNames } from "./internal/report/errors.js"

export { ReportError, fileNames } from "./internal/report/errors.js"

/**
 * Options of the text and HTML reports.
 *
 * @since 0.1.0
 * @category models
 */
export interface TextOptions {
  /** Where `rerun-failed.yml` is (or will be) written, shown in the rerun hint; a placeholder when absent. */
  readonly rerunFile?: string
}

/**
 * `report.txt`: the session header, one block per test, then the failed tests' symbols and how to rerun them.
 *
 * @since 0.1.0
 * @category utils
 */
export const text: (session: SessionResults, options?: TextOptions) => string = text_.text

/**
 * What the terminal shows at the end of a run: the counts, each failure's first line (the first 20), the rerun
 * command and where the full report is; report.txt itself can be tens of thousands of lines.
 *
 * @since 0.1.0
 * @category utils
 */
export const summary: (
  session: SessionResults,
  options?: { readonly rerunFile?: string; readonly reportFile?: string }
) => string = text_.summary

/**
 * `report.json`: the results model encoded with its Schema, pretty-printed.
 *
 * @since 0.1.0
 * @category utils
 */
export const json: (session: SessionResults) => string = internal.json

/**
 * Reads a `report.json` back into the results model (report merge, --historical-report).
 *
 * @since 0.1.0
 * @category utils
 */
export const decodeJson: (text: string, source?: string) => Either.Either<SessionResults, ReportError> =
  internal.decodeJson

/**
 * `report.xml`: JUnit XML, one `<testsuite>` per module and suite, that Jenkins, GitLab and GitHub reporters read.
 *
 * @since 0.1.0
 * @category utils
 */
export const junit: (session: SessionResults) => string = junit_.junit

/**
 * `report.html`: one self-contained page (inline CSS and JS, no network) with filters, details and fault timelines.
 *
 * @since 0.1.0
 * @category utils
 */
export const html: (session: SessionResults, options?: TextOptions) => string = html_.html

/**
 * `timeline.svg`: one row per node, each test a bar from its nodes' allocation to their release, faults and service ticks.
 *
 * @since 0.1.0
 * @category utils
 */
export const timelineSvg = (session: SessionResults): string => timeline_.svg(session, byStatus(session.results))

/**
 * `rerun-failed.yml`: `{ <sessionId>: [symbols of failed tests] }`, or undefined when no test failed. Given the
 * directory it will be written in, its paths are relative to that (as a suite file's paths are read).
 *
 * @since 0.1.0
 * @category utils
 */
export const rerunSuite: (session: SessionResults, dir?: string) => string | undefined = internal.rerunSuite

/**
 * Writes every report into `dir` (each to a temporary file, then renamed, so a crash never leaves half a
 * report) and returns the paths written. A stale `rerun-failed.yml` is removed when nothing failed.
 *
 * @since 0.1.0
 * @category utils
 */
export const writeAll: (dir: string, session: SessionResults) => Effect.Effect<ReadonlyArray<string>, ReportError> =
  internal.writeAll

/**
 * Merges shard sessions into one: results in order (a later result for the same test id wins), the earliest
 * start and latest stop, tests not run in any shard, and interrupted if any shard was.
 *
 * @since 0.1.0
 * @category utils
 */
export const merge: (sessions: ReadonlyArray<SessionResults>) => SessionResults = internal.merge
