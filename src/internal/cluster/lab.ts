// The lab's machinery (src/Lab.ts), in modules along its seams under lab/: names, tools (running commands,
// files), state (lab.json), layout (options, addresses, paths), network (subnets, namespaces, bridge, veths),
// processes (what runs in the namespaces), teardown and up.
export { read } from "./lab/state.js"
export { down, list } from "./lab/teardown.js"
export { layer, scoped, up } from "./lab/up.js"
