#!/usr/bin/env node
// `--help` and `--version` need none of the framework's dependencies: src/bin.ts answers them from the flag table.
const quick = process.argv.slice(2).some((a) => a === "--help" || a === "-h" || a === "--version")
// The framework's dependencies load first, as plain ESM: once tsx is registered every module resolution goes
// through its hooks, which would double the start-up time for these large module graphs.
if (!quick) {
  await Promise.all([
    import("effect"),
    import("@effect/cli/Args"),
    import("@effect/cli/Command"),
    import("@effect/cli/Options"),
    import("@effect/platform-node/NodeContext"),
    import("ssh2"),
    import("mustache")
  ])
}
// Test files (and this package's own sources) are TypeScript and load without a build step.
const { register } = await import("tsx/esm/api")
register()
await import("../src/bin.ts")
