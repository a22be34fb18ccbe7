/**
 * Module hooks (node:module `register`) for the user's TypeScript files: see userModule.ts. A `.ts` or `.tsx` file
 * outside node_modules is an ES module, whatever package.json's "type" says; `.cts` stays CommonJS.
 */
interface ResolveResult {
  readonly url: string
  readonly format?: string | null | undefined
}
type NextResolve = (specifier: string, context: unknown) => Promise<ResolveResult>

const userTypeScript = /\.tsx?$/

/** The resolve hook: tsx's answer, with the format of the user's TypeScript files set to "module". */
export const resolve = async (specifier: string, context: unknown, nextResolve: NextResolve): Promise<ResolveResult> => {
  const resolved = await nextResolve(specifier, context)
  const path = resolved.url.split("?")[0] ?? resolved.url
  if (resolved.url.startsWith("file:") && userTypeScript.test(path) && !path.includes("/node_modules/")) {
    return { ...resolved, format: "module" }
  }
  return resolved
}
