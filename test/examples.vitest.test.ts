// The examples written as vitest tests live next to the other examples; vitest collects only test/**, so they
// are registered here by importing them.
import "../examples/vitest/zookeeper.test.js"
