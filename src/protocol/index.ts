/**
 * The pure wire codec (protocol.md sections 2 to 4): keys, ciphers, secure messages, TCP framing
 * and the message catalogue. No sockets, timers or logging.
 *
 * @module
 */
export type { AgentKey, CryptoMethod, MessageCounter, Sender } from './types.js';
export { AGENT_VERSION, formatUname, parseUname } from './uname.js';
export type { ParsedUname, UnameInfo } from './uname.js';
export { MAX_FRAME_SIZE, FRAME_HEADER_SIZE, encodeTcpFrame, FrameDecoder } from './framing.js';
export type { FrameDecoderOptions } from './framing.js';
export {
  MAX_AGENT_ID_LENGTH,
  parseClientKeys,
  parseClientKeysDetailed,
  formatClientKeys,
  isValidAgentId,
  isValidKeyIp,
  isValidAgentName,
  deriveEncryptionKey,
  enrollmentKeyHash,
  isSingleHost,
  keyIpAllows,
  normalizeSourceIp,
} from './keys.js';
export type { DerivedKey, ParsedClientKeys } from './keys.js';
export { AES_BLOCK_SIZE, AES_IV, aesEncrypt, aesEncryptNoPadding, aesDecrypt } from './aes.js';
export { BLOWFISH_BLOCK_SIZE, BLOWFISH_IV, Blowfish, blowfishForKey, blowfishEncrypt, blowfishDecrypt } from './blowfish.js';
export {
  MAX_MESSAGE_SIZE,
  MAX_COMPRESSED_SIZE,
  MAX_DECOMPRESSED_SIZE,
  MESSAGE_OVERHEAD,
  MAX_LOCAL_COUNTER,
  DEFAULT_COMPRESSION_LEVEL,
  nextCounter,
  formatCounter,
  checkCounter,
  encodeSecureMessage,
  encodeSecureFrame,
  decodeSecureMessage,
  decodeSecurePayload,
  peekAgentId,
  isPing,
} from './secure.js';
export type {
  CounterCheck,
  EncodeSecureMessageOptions,
  DecodeSecureMessageOptions,
  DecodedSecureMessage,
  AgentIdHeader,
  KeySource,
} from './secure.js';
export {
  CONTROL_HEADER,
  CONTROL_HEADER_BYTES,
  ACK_MESSAGE,
  SHUTDOWN_MESSAGE,
  FORCE_RECONNECT_MESSAGE,
  FILE_CLOSE_MESSAGE,
  STARTUP_PREFIX,
  PING,
  PONG,
  AGENT_LOCATION,
  QUEUE,
  UNMERGE_FAILED_EVENT,
  buildStartup,
  buildKeepalive,
  parseKeepalive,
  escapeLocation,
  unescapeLocation,
  buildEvent,
  parseEvent,
  agentStartedEvent,
  agentStoppedEvent,
  bufferStateEvent,
  invalidRemoteConfigEvent,
  formatAnalysisdEvent,
  buildRequest,
  buildRequestReply,
  buildRequestAck,
  buildErr,
  buildExecd,
  buildFileOpen,
  parseManagerMessage,
  parseAgentMessage,
} from './messages.js';
export type {
  KeepaliveLabel,
  KeepaliveInfo,
  ParsedKeepalive,
  EventInput,
  ParsedEvent,
  BufferState,
  ModuleName,
  ManagerMessage,
  AgentMessage,
} from './messages.js';
export { buildMergedMg, parseMergedMg, sanitizeSharedFileName } from './merged.js';
export type { MergedFile, MergedMg } from './merged.js';
export * from './enrollment.js';
