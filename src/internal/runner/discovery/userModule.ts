/**
 * Loading the user's own modules — test files, `--cluster` modules — which are usually TypeScript.
 *
 * The framework itself is built JavaScript; only the CLI process needs a TypeScript loader, and only once it
 * meets a user's file, so tsx's hooks are registered then (every later import pays for them). Beside tsx, one
 * hook of ours loads every `.ts`/`.tsx` file outside node_modules as an ES module whatever the nearest
 * package.json's "type" says: `npm init -y` writes "commonjs", and tsx would compile a test file to CommonJS that
 * cannot `require()` the ES modules it imports. Under vitest, which transforms TypeScript itself, nothing is
 * registered.
 */
import * as NodeModule from "node:module"
import { pathToFileURL } from "node:url"

let typeScriptLoader: "off" | "wanted" | Promise<void> = "off"

/** Asks for the TypeScript loader in this process (the CLI's entry does); it is registered at the first import. */
export const enableTypeScript = (): void => {
  if (typeScriptLoader === "off") typeScriptLoader = "wanted"
}

const ready = (): Promise<void> | undefined => {
  if (typeScriptLoader === "off") return undefined
  if (typeScriptLoader === "wanted") {
    typeScriptLoader = import("tsx/esm/api").then(({ register }) => {
      register()
      // Registered after tsx, so it runs first and sees tsx's answer (hooks chain last-registered first).
      NodeModule.register(new URL("./userModuleHooks.js", import.meta.url))
    })
  }
  return typeScriptLoader
}

/** Imports the user's module at an absolute path. */
export const importUserModule = async (file: string): Promise<Record<string, unknown>> => {
  await ready()
  return import(/* @vite-ignore */ pathToFileURL(file).href) as Promise<Record<string, unknown>>
}
