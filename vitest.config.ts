import { defineConfig } from "vitest/config"

// Our own tests live in test/ and end in .test.ts; user system tests (examples/) use the
// `*.ducktape.ts` naming rule so the two never clash.
export default defineConfig({
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
