import { Schema } from "effect"

/** Why Docker nodes could not be made, found or removed. */
export const DockerFailure = Schema.Literal(
  "missing-tool",
  "no-daemon",
  "no-permission",
  "ssh-failed",
  "invalid-options",
  "image-build-failed",
  "no-base-image",
  "image-not-found",
  "no-sshd",
  "name-conflict",
  "disk-full",
  "command-failed",
  "timeout"
)
/** @see DockerFailure */
export type DockerFailure = typeof DockerFailure.Type

const hints: Record<DockerFailure, string> = {
  "missing-tool": "install Docker's CLI and daemon (Debian/Ubuntu: `apt-get install -y docker.io`, and `mmdebstrap` to build the default image there; elsewhere Docker Desktop or Docker Engine)",
  "no-daemon": "start the Docker daemon (e.g. `dockerd &` or `systemctl start docker`), or point DOCKER_HOST / the endpoint list at a running one",
  "no-permission": "run as root, or add your user to the `docker` group (`usermod -aG docker $USER`, then log in again)",
  "ssh-failed":
    "an ssh:// engine is reached with your own `ssh` (your ~/.ssh/config, keys or agent, known_hosts) and the remote `docker` CLI: check that `ssh [-p PORT] USER@HOST docker system dial-stdio` connects without a prompt, and that the remote user may run docker",
  "invalid-options": "fix the Docker cluster options",
  "image-build-failed": "see the build output above; the Debian mirror must be reachable (it is read from /etc/apt/sources.list*)",
  "no-base-image":
    "give a Debian bookworm image the engine has or can pull (DUCKTAPE_DOCKER_BASE_IMAGE or `baseImage`, e.g. your registry's debian:bookworm-slim), install mmdebstrap to build one from your Debian mirror (apt-get install -y mmdebstrap), or give a ready node image with sshd (DUCKTAPE_DOCKER_IMAGE or `image`)",
  "image-not-found": "build or pull the image on that endpoint first, or leave `image` out to use the default one",
  "no-sshd": "use an image with OpenSSH's server (/usr/sbin/sshd) and /bin/sh, e.g. `apt-get install -y openssh-server` in its Dockerfile, or leave `image` out",
  "name-conflict": "take the other cluster down (`ducktape docker down --name NAME`), or choose another name",
  "disk-full": "free space where Docker keeps its data (`docker system prune`, or a bigger disk for /var/lib/docker)",
  "command-failed": "see the Docker output above",
  timeout: "the Docker daemon did not answer in time; check it with `docker info`, or retry"
}

/** Docker nodes could not be made, found or removed; nothing of a failed start is left behind. */
export class DockerError extends Schema.TaggedError<DockerError>()("DockerError", {
  /** The endpoint (or `docker` when none in particular). */
  endpoint: Schema.String,
  reason: DockerFailure,
  detail: Schema.String
}) {
  override get message(): string {
    return `docker (${this.endpoint}): ${this.detail}\n  fix: ${hints[this.reason]}`
  }
}
