/** Bytes to text and back, for the account's parts: command output arrives as bytes, stdin and files go as bytes. */
import type { Chunk } from "effect"

export const encoder = new TextEncoder()

export const concatBytes = (chunks: Chunk.Chunk<Uint8Array>): Uint8Array => {
  let length = 0
  for (const c of chunks) length += c.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

export const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
