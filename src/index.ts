/**
 * ducktape-effect: system tests of distributed software on real clusters, written as Effect programs.
 *
 * @since 0.1.0
 */
export * as Cluster from "./Cluster.js"
export * as Discovery from "./Discovery.js"
export * as Docker from "./Docker.js"
export type { ClusterNode } from "./Cluster.js"
export * as Clean from "./Clean.js"
export * as Fault from "./Fault.js"
export * as Lab from "./Lab.js"
export * as LocalAccount from "./LocalAccount.js"
export * as LogMonitor from "./LogMonitor.js"
export * as Provision from "./Provision.js"
export * as RemoteAccount from "./RemoteAccount.js"
export * as Report from "./Report.js"
export * as Results from "./Results.js"
export * as Runner from "./Runner.js"
export * as Service from "./Service.js"
export * as Shell from "./Shell.js"
export * as SshAccount from "./SshAccount.js"
export * as Sshd from "./Sshd.js"
export * as Template from "./Template.js"
export * as Test from "./Test.js"
export * as TestContext from "./TestContext.js"
export * as Wait from "./Wait.js"
