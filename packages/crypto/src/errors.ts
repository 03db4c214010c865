export const CryptoErrorCode = {
  BAD_KEY: 'CRYPTO_BAD_KEY',
  BAD_PASSPHRASE: 'CRYPTO_BAD_PASSPHRASE',
  NO_PASSPHRASE: 'CRYPTO_NO_PASSPHRASE',
  KEYFILE_INVALID: 'CRYPTO_KEYFILE_INVALID',
  DECRYPT_FAILED: 'CRYPTO_DECRYPT_FAILED',
  /** A verifier pool's worker thread failed; the batches it had in hand are lost. */
  VERIFIER_FAILED: 'CRYPTO_VERIFIER_FAILED',
  /** The verifier pool was closed with batches still out. */
  VERIFIER_CLOSED: 'CRYPTO_VERIFIER_CLOSED',
} as const;
