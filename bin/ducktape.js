#!/usr/bin/env node
// Test files are TypeScript and load without a build step: register tsx before anything imports them.
import { register } from "tsx/esm/api"

register()
await import("../src/bin.ts")
