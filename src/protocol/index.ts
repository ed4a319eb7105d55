/**
 * The pure wire codec (protocol.md sections 2 to 4): keys, ciphers, secure messages, TCP framing
 * and the message catalogue. No sockets, timers or logging.
 *
 * @module
 */
export type { AgentKey, CryptoMethod, MessageCounter, Sender } from './types.js';
export { MAX_FRAME_SIZE, FRAME_HEADER_SIZE, encodeTcpFrame, FrameDecoder } from './framing.js';
export type { FrameDecoderOptions } from './framing.js';
