/**
 * RFC 6587 syslog-over-TCP framing, as a pure byte decoder (no sockets, no clocks).
 *
 * - Octet counting: `MSG-LEN SP MSG`, MSG-LEN = NONZERO-DIGIT *DIGIT.
 * - Non-transparent: `MSG TRAILER`, the trailer being LF (a CR before it is dropped) or NUL.
 *
 * The mode is chosen from the first byte of the connection (a digit 1-9 means octet counting,
 * as rsyslog and syslog-ng decide) and then held: a sender that starts counting and then sends
 * something that is not a count has lost framing, and nothing after that point can be trusted,
 * so the decoder fails and the caller closes the connection.
 *
 * Memory stays bounded by `maxMessageBytes` plus one read chunk: a non-transparent frame that
 * grows past the limit is dropped and the decoder skips to the next trailer; an octet count over
 * the limit fails the connection at once (skipping gigabytes announced by a stranger is no
 * service to anyone).
 */

import type { ErrorCode } from '../errors.js';

export type FramingMode = 'octet-counting' | 'non-transparent';

export type FrameFaultReason = 'frame-too-long' | 'bad-octet-count';

/** Why a connection must be closed. `code` is the BridgeError code a caller would use. */
export interface FrameFault {
  reason: FrameFaultReason;
  code: Extract<ErrorCode, 'ERR_FRAME_TOO_LONG' | 'ERR_FRAME_INVALID'>;
  message: string;
}

export interface FrameSink {
  /** One message without framing. The buffer may share memory with the pushed chunk. */
  frame(data: Buffer): void;
  /** A non-transparent frame exceeded the limit and was skipped; `bytes` is how many were seen before giving up. */
  oversized(bytes: number): void;
}

export interface FrameDecoderOptions {
  maxMessageBytes: number;
  /**
   * Refuse LF/NUL framing (config `limits.requireOctetCounting`): a non-transparent frame ends at
   * the first LF, so a newline in a VPN user name would end the message there and hand the text
   * after it on as a line of the sender's own. A connection that does not start with a count fails.
   */
  octetCountingOnly?: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const SP = 0x20;
const ZERO = 0x30;
const NINE = 0x39;

type State =
  | { kind: 'start' }
  | { kind: 'count'; value: number; digits: number }
  | { kind: 'body'; remaining: number }
  | { kind: 'line' }
  | { kind: 'skip-line' }
  | { kind: 'failed' };

/**
 * Incremental decoder for one connection. Feed it reads in any split; it calls the sink for each
 * whole frame. Never throws on any input.
 */
export class FrameDecoder {
  readonly #max: number;
  readonly #octetCountingOnly: boolean;
  #mode: FramingMode | undefined;
  /**
   * Non-transparent trailer, fixed by the first one seen. LF first: only LF ends a frame, so a NUL
   * inside a message (kmd writes garbage bytes into some fields) stays data. NUL first: NUL and LF
   * both end frames, so a connection that began with garbage still resynchronises at LF.
   */
  #trailer: 'lf' | 'any' | undefined;
  #state: State = { kind: 'start' };
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(options: FrameDecoderOptions) {
    this.#max = options.maxMessageBytes;
    this.#octetCountingOnly = options.octetCountingOnly ?? false;
  }

  get mode(): FramingMode | undefined {
    return this.#mode;
  }

  /** Bytes held for an incomplete frame (for tests of the memory bound). */
  get bufferedBytes(): number {
    return this.#pendingBytes;
  }

  get failed(): boolean {
    return this.#state.kind === 'failed';
  }

  /**
   * Decodes one read. Returns a fault when the connection must be closed; after a fault the
   * decoder ignores further input. `chunk` is not kept past the call; a frame handed to `sink` may
   * be a view into it, as long-lived as the chunk's memory.
   */
  push(chunk: Buffer, sink: FrameSink): FrameFault | undefined {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      const state = this.#state;
      switch (state.kind) {
        case 'failed':
          return undefined;
        case 'start': {
          const b = chunk[pos]!;
          if (this.#mode === undefined) {
            this.#mode = b > ZERO && b <= NINE ? 'octet-counting' : 'non-transparent';
            if (this.#mode === 'non-transparent' && this.#octetCountingOnly) {
              return this.#fail('bad-octet-count', 'ERR_FRAME_INVALID', `this listener takes octet-counted frames only (limits.requireOctetCounting), got byte 0x${b.toString(16).padStart(2, '0')}: have the sender count octets (RFC 6587 3.4.1; rsyslog TCP_Framing="octet-counted")`);
            }
          }
          if (this.#mode === 'non-transparent') {
            this.#state = { kind: 'line' };
            continue;
          }
          // Between counted frames some senders put a newline; it carries nothing.
          if (b === LF || b === CR || b === NUL) {
            pos++;
            continue;
          }
          if (b > ZERO && b <= NINE) {
            this.#state = { kind: 'count', value: b - ZERO, digits: 1 };
            pos++;
            continue;
          }
          return this.#fail('bad-octet-count', 'ERR_FRAME_INVALID', `expected an octet count (RFC 6587), got byte 0x${b.toString(16).padStart(2, '0')}`);
        }
        case 'count': {
          const b = chunk[pos]!;
          pos++;
          if (b >= ZERO && b <= NINE) {
            state.value = state.value * 10 + (b - ZERO);
            state.digits++;
            if (state.value > this.#max) {
              return this.#fail('frame-too-long', 'ERR_FRAME_TOO_LONG', `octet count over the limit of ${this.#max} bytes (limits.maxMessageBytes)`);
            }
            continue;
          }
          if (b === SP) {
            this.#state = { kind: 'body', remaining: state.value };
            continue;
          }
          return this.#fail('bad-octet-count', 'ERR_FRAME_INVALID', `expected a space after the octet count, got byte 0x${b.toString(16).padStart(2, '0')}`);
        }
        case 'body': {
          const take = Math.min(state.remaining, len - pos);
          const piece = chunk.subarray(pos, pos + take);
          pos += take;
          state.remaining -= take;
          if (state.remaining > 0) {
            this.#hold(piece);
            continue;
          }
          sink.frame(this.#takePending(piece));
          this.#state = { kind: 'start' };
          continue;
        }
        case 'line': {
          const end = this.#findTrailer(chunk, pos);
          if (end === -1) {
            const rest = chunk.subarray(pos);
            if (this.#pendingBytes + rest.length > this.#max) {
              sink.oversized(this.#pendingBytes + rest.length);
              this.#dropPending();
              this.#state = { kind: 'skip-line' };
            } else {
              this.#hold(rest);
            }
            return undefined;
          }
          const piece = chunk.subarray(pos, end);
          pos = end + 1;
          if (this.#pendingBytes + piece.length > this.#max) {
            sink.oversized(this.#pendingBytes + piece.length);
            this.#dropPending();
            continue;
          }
          this.#emitLine(this.#takePending(piece), sink);
          continue;
        }
        case 'skip-line': {
          const end = this.#findTrailer(chunk, pos);
          if (end === -1) return undefined;
          pos = end + 1;
          this.#state = { kind: 'line' };
          continue;
        }
        default:
          return state satisfies never;
      }
    }
    return undefined;
  }

  /**
   * The peer closed. A non-transparent line without its trailer is still a whole message (many
   * senders omit the last LF); an octet-counted frame cut short is not. Returns the bytes of an
   * incomplete frame that had to be discarded (0 when none).
   */
  end(sink: FrameSink): number {
    const state = this.#state;
    let discarded = 0;
    if (state.kind === 'line' && this.#pendingBytes > 0) {
      this.#emitLine(this.#takePending(Buffer.alloc(0)), sink);
    } else if (state.kind === 'body') {
      discarded = this.#pendingBytes + 1;
    } else if (state.kind === 'count') {
      discarded = state.digits;
    }
    this.#dropPending();
    this.#state = { kind: 'failed' };
    return discarded;
  }

  #findTrailer(chunk: Buffer, from: number): number {
    const lf = chunk.indexOf(LF, from);
    if (this.#trailer === 'lf') return lf;
    // Only look for NUL before the first LF: NUL-terminated senders are rare.
    const nul = (lf === -1 ? chunk : chunk.subarray(0, lf)).indexOf(NUL, from);
    if (this.#trailer === undefined) {
      if (nul !== -1) this.#trailer = 'any';
      else if (lf !== -1) this.#trailer = 'lf';
    }
    return nul !== -1 ? nul : lf;
  }

  #emitLine(line: Buffer, sink: FrameSink): void {
    let end = line.length;
    // CRLF and "MSG NUL LF" senders: strip what is left of the trailer.
    while (end > 0 && (line[end - 1] === CR || line[end - 1] === NUL || line[end - 1] === LF)) end--;
    if (end === 0) return;
    sink.frame(end === line.length ? line : line.subarray(0, end));
  }

  #hold(piece: Buffer): void {
    if (piece.length === 0) return;
    // Copied: the caller may reuse the chunk's memory after push returns (a replay's read buffer),
    // and a live socket's chunk is not kept alive for a few bytes of it.
    this.#pending.push(Buffer.from(piece));
    this.#pendingBytes += piece.length;
  }

  #takePending(last: Buffer): Buffer {
    if (this.#pending.length === 0) return last;
    this.#pending.push(last);
    const whole = Buffer.concat(this.#pending, this.#pendingBytes + last.length);
    this.#dropPending();
    return whole;
  }

  #dropPending(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  #fail(reason: FrameFaultReason, code: FrameFault['code'], message: string): FrameFault {
    this.#state = { kind: 'failed' };
    this.#dropPending();
    return { reason, code, message };
  }
}

/** Encodes messages with octet counting (for tests and benches). */
export function encodeOctetCounted(messages: readonly (string | Buffer)[]): Buffer {
  return Buffer.concat(messages.map((m) => {
    const body = typeof m === 'string' ? Buffer.from(m) : m;
    return Buffer.concat([Buffer.from(`${body.length} `), body]);
  }));
}

/** Encodes messages non-transparently with the given trailer (for tests and benches). */
export function encodeNonTransparent(messages: readonly (string | Buffer)[], trailer: '\n' | '\r\n' | '\0' = '\n'): Buffer {
  return Buffer.concat(messages.map((m) => Buffer.concat([typeof m === 'string' ? Buffer.from(m) : m, Buffer.from(trailer)])));
}
