// The two libsodium calls we use; sodium-native ships no type declarations.
declare module 'sodium-native' {
  /** Strict ed25519 verification (canonical S, A and R of large order). */
  export function crypto_sign_verify_detached(
    signature: Uint8Array,
    message: Uint8Array,
    publicKey: Uint8Array,
  ): boolean;
}
