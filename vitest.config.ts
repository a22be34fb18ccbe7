import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// Our own tests live in test/ and end in .test.ts; user system tests (examples/) use the
// `*.ducktape.ts` naming rule so the two never clash.
export default defineConfig({
  resolve: {
    // The package's exports name the build (dist/); in our own tests, examples that import "ducktape-effect" must
    // share the modules the tests import from src/, or a value made by one copy is foreign to the other. The
    // built package is tested as it ships by test/Package.test.ts and the CLI tests.
    alias: [
      { find: /^ducktape-effect\/vitest$/, replacement: fileURLToPath(new URL("src/vitest.ts", import.meta.url)) },
      { find: /^ducktape-effect$/, replacement: fileURLToPath(new URL("src/index.ts", import.meta.url)) }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real sshd processes and network namespaces; two cores do not benefit from more forks.
    maxWorkers: 2,
    minWorkers: 1
  }
})
