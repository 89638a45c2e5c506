/**
 * One syslog datagram -> its messages: the one splitter of the UDP listener and of packet-capture
 * replay, so a datagram gives the same messages live and from a pcap.
 *
 * A datagram normally carries one message (RFC 5426), but relays and some senders pack several,
 * one per line: the datagram is split on LF. Each piece loses a trailing CR (CRLF senders) and
 * NULs (C senders that send the terminator); empty pieces are nothing. A piece longer than
 * `maxMessageBytes` is dropped and reported, never cut (a cut message could read as another).
 */

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;

export interface DatagramSink {
  /** One message: a view into the datagram, valid during the call. */
  message(data: Buffer): void;
  /** A message over the limit was dropped; `bytes` is its length. */
  tooLong(bytes: number): void;
}

/**
 * Splits `data` and hands each message to `sink`, in order. Returns how many messages it handed
 * on (dropped ones not counted). Pure; never throws (the sink's own errors aside).
 */
export function splitDatagram(data: Buffer, maxMessageBytes: number, sink: DatagramSink): number {
  let start = 0;
  let count = 0;
  const length = data.length;
  while (start < length) {
    let end = data.indexOf(LF, start);
    if (end === -1) end = length;
    let stop = end;
    while (stop > start && (data[stop - 1] === CR || data[stop - 1] === NUL)) stop--;
    if (stop > start) {
      if (stop - start > maxMessageBytes) {
        sink.tooLong(stop - start);
      } else {
        count++;
        sink.message(start === 0 && stop === length ? data : data.subarray(start, stop));
      }
    }
    start = end + 1;
  }
  return count;
}
