import type { LineState } from '../events/ptim-event.js';

/**
 * The records that pass between the pipeline's stages (DESIGN.md §1). Each stage is a plain
 * function or a small class; these are the only shapes they exchange.
 */

export type Transport = 'udp' | 'tcp' | 'tls' | 'file';

/** One syslog message as it arrived: a datagram line, a TCP/TLS frame, or a line of a capture. */
export interface ReceivedMessage {
  /** The message bytes without framing (no octet count, no trailing LF/CRLF/NUL). */
  data: Buffer;
  /** Network address of the sender (IPv4 or IPv6, no port), or "file" in replay. */
  sender: string;
  /** Receipt time, ms since the epoch. */
  receivedAt: number;
  transport: Transport;
  /** TLS with a verified client certificate: the names it vouches for (CN, DNS SANs; lower case). */
  peerNames?: readonly string[];
  /** Replay of an export (JSON lines, CSV): what the export recorded beside the text. */
  recorded?: RecordedFields;
}

/** Fields an export keeps beside a line's text (src/ingest/recorded.ts applies them to the envelope). */
export interface RecordedFields {
  /** The instant the export gives (ms since the epoch): it wins over the header's time, which may lack year and zone. */
  time?: number;
  /** Host, daemon and PID the export gives: used only where the text names none. */
  host?: string;
  app?: string;
  pid?: string;
}

export type EnvelopeFormat = 'rfc5424' | 'rfc3164' | 'file' | 'bare';

/** The syslog header taken apart; `msg` is the text the patterns see. */
export interface Envelope {
  format: EnvelopeFormat;
  pri?: number;
  /** From the header; undefined when the line carries no time. */
  time?: Date;
  host?: string;
  app?: string;
  pid?: string;
  /** The Junos tag, e.g. IKE_VPN_UP_ALARM_USER, when the message starts with `TAG:`. */
  tag?: string;
  msgId?: string;
  /** RFC 5424 structured data, verbatim (e.g. `[junos@2636.1.1.1.2.129 ...]`). */
  structuredData?: string;
  msg: string;
}

/** A rule matched a message. Field names are the rule's named captures. */
export interface PatternMatch {
  ruleId: string;
  state: LineState;
  fields: Readonly<Record<string, string>>;
  /** The alarm as the rule read it: its tag (in the text or the RFC 5424 MSGID) and the text after `TAG: `, trailing blanks dropped. */
  tag?: string;
  body?: string;
}
