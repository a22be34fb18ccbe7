/**
 * What an error says, whatever was thrown: its message when it has one (an Error, a tagged error, any object with
 * a string `message`), else its text.
 * @internal
 */
export const errorText = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" ? e.message : String(e)
