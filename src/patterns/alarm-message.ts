import type { Envelope } from '../flow/pipeline-records.js';

/**
 * The part of a syslog message a rule reads: the tag the message starts with, the daemon that
 * wrote it, and the text after `TAG: `. A message is a tag's own message only when the tag stands
 * at its start (after the envelope's host, chassis prefix and `daemon[pid]: `) or is its RFC 5424
 * MSGID; text that merely contains a tag (an sshd user name, an mgd command line, a flow log
 * field) has no tag here and is never matched by a rule.
 */
export interface AlarmMessage {
  tag: string;
  /** The daemon (APP-NAME), when the line names one. */
  app?: string;
  /** The text after `TAG: ` (or, in RFC 5424, after the structured data). */
  body: string;
}

const TAG_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;

/** A Junos tag name: upper case words joined by `_` (IKE_VPN_UP_ALARM_USER). */
export function isTagName(text: string): boolean {
  return TAG_NAME.test(text);
}

/** The alarm message of an envelope, or undefined when the message does not start with a tag. */
export function alarmMessage(envelope: Envelope): AlarmMessage | undefined {
  const { tag, msg, msgId } = envelope;
  if (tag === undefined) return undefined;
  let body: string;
  if (msg.startsWith(tag) && msg.charCodeAt(tag.length) === 58 /* : */) {
    body = msg.charCodeAt(tag.length + 1) === 32 ? msg.slice(tag.length + 2) : msg.slice(tag.length + 1);
    // RFC 5424: a MSGID that names another tag contradicts the text's tag; neither is trusted.
    if (msgId !== undefined && msgId !== tag && isTagName(msgId)) return undefined;
  } else if (msgId === tag) {
    body = msg;
  } else {
    return undefined;
  }
  // Trailing blanks and a CR (a relay's padding, a CRLF file) are not part of the last field.
  let end = body.length;
  for (let c = body.charCodeAt(end - 1); c === 32 || c === 9 || c === 13; c = body.charCodeAt(end - 1)) end--;
  if (end < body.length) body = body.slice(0, end);
  return envelope.app === undefined ? { tag, body } : { tag, app: envelope.app, body };
}

/**
 * The alarm's text as `alarmMessage` read it, `TAG: body`: the duplicate memory's key and the
 * event id's, so copies of one line that differ in their envelope (the tag only as RFC 5424 MSGID,
 * trailing blanks or a CR) are one line. For the usual line that is `msg` itself: a message that
 * starts `TAG: ` is read from there on, so the same length means nothing was trimmed.
 */
export function alarmText(tag: string, body: string, msg: string): string {
  const same = msg.length === tag.length + 2 + body.length && msg.charCodeAt(tag.length) === 58 && msg.charCodeAt(tag.length + 1) === 32 && msg.startsWith(tag);
  return same ? msg : `${tag}: ${body}`;
}
