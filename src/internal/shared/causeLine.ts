/**
 * The line of a failed program's output most likely to say why it failed, for a one-line summary: the first line
 * that reads like an error, else the first non-blank line. A usage text printed after "flag provided but not
 * defined" must not hide that first line.
 */
const errorLike = /\b(error|fatal|panic|exception|not defined|invalid|unknown|cannot|can't|could not|failed|denied|refused|no such|not found|usage)\b/i

/** @internal */
export const causeLine = (lines: ReadonlyArray<string>): string | undefined => {
  const meaningful = lines.map((l) => l.trim()).filter((l) => l !== "")
  // "usage" only counts when nothing else reads like an error: it is the symptom, the line before it the cause.
  const strong = meaningful.find((l) => errorLike.test(l) && !/^usage\b/i.test(l))
  const found = strong ?? meaningful[0]
  return found === undefined ? undefined : found.length > 200 ? `${found.slice(0, 200)}…` : found
}
