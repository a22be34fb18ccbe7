// The few picomatch 4 entry points used here (the package ships no types; @types/picomatch would replace this).
declare module "picomatch" {
  interface PicomatchOptions {
    readonly dot?: boolean
    readonly nocase?: boolean
    readonly noextglob?: boolean
  }
  interface Picomatch {
    (glob: string, options?: PicomatchOptions): (test: string) => boolean
  }
  const picomatch: Picomatch
  export default picomatch
}
