/** Error codes of the node; the API maps each to an HTTP status. */
export const NodeErrorCode = {
  ConfigInvalid: 'CONFIG_INVALID',
  HomeExists: 'HOME_EXISTS',
  HomeMissing: 'HOME_MISSING',
  BadSignature: 'BAD_SIGNATURE',
  WrongChain: 'WRONG_CHAIN',
  BadNonce: 'BAD_NONCE',
  Unauthorized: 'UNAUTHORIZED',
  NotFound: 'NOT_FOUND',
  AlreadyExists: 'ALREADY_EXISTS',
  TxRejected: 'TX_REJECTED',
  TxFailed: 'TX_FAILED',
  /** A waited-for tx left the mempool without committing: it broke a rule once the state moved. */
  TxDropped: 'TX_DROPPED',
  MempoolFull: 'MEMPOOL_FULL',
  RateLimited: 'RATE_LIMITED',
  Duplicate: 'TX_DUPLICATE',
  Timeout: 'TIMEOUT',
  NotReady: 'NOT_READY',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  /** A `POST /txs/batch` body with no txs or more than the API takes. */
  BatchSize: 'BATCH_SIZE',
  InvalidBlock: 'INVALID_BLOCK',
  InvalidCommit: 'INVALID_COMMIT',
  DoubleSign: 'DOUBLE_SIGN_REFUSED',
  ProposalTxs: 'PROPOSAL_TXS_INVALID',
  /** A consensus WAL record passed its checksum but is not a consensus message: start refused. */
  WalCorrupt: 'WAL_CORRUPT',
  /** A peer's relayed tx batch is malformed or holds a tx no honest node would have admitted. */
  BadTxBatch: 'TX_BATCH_INVALID',
  /** The HTTP API cannot listen on its address (typically: the port is taken). */
  ApiListenFailed: 'API_LISTEN_FAILED',
  /** libp2p cannot listen on its address (typically: the port is taken). */
  P2pListenFailed: 'P2P_LISTEN_FAILED',
  /** A peer's block sync reply holds a block of another height than the one asked for. */
  SyncOutOfOrder: 'SYNC_OUT_OF_ORDER',
  /** API: the request does not match the route's schema, or is no well-formed HTTP request or URL. */
  InvalidRequest: 'INVALID_REQUEST',
  /** API: the body is not JSON. */
  BadJson: 'BAD_JSON',
  /** API: a body over the route's limit. */
  BodyTooLarge: 'BODY_TOO_LARGE',
  /** A fault of the node, not of the caller (the API answers 500). */
  Internal: 'INTERNAL',
} as const;
