/**
 * ducktape-effect: system tests of distributed software on real clusters, written as Effect programs.
 *
 * @since 0.1.0
 */
export * as Cluster from "./Cluster.js"
export type { ClusterNode } from "./Cluster.js"
export * as LocalAccount from "./LocalAccount.js"
export * as LogMonitor from "./LogMonitor.js"
export * as Provision from "./Provision.js"
export * as RemoteAccount from "./RemoteAccount.js"
export * as Results from "./Results.js"
export * as Service from "./Service.js"
export * as Shell from "./Shell.js"
export * as SshAccount from "./SshAccount.js"
export * as Template from "./Template.js"
export * as Test from "./Test.js"
export * as TestContext from "./TestContext.js"
export * as Wait from "./Wait.js"
