/**
 * One syslog datagram -> its messages: the one splitter of the UDP listener and of packet-capture
 * replay, so a datagram gives the same messages live and from a pcap.
 *
 * A datagram carries one message (RFC 5426); trailing LF, CR and NUL (line-ending and C senders)
 * are dropped. A line break inside it stays in the message, which the field checks then refuse
 * (`control-characters`): a VPN client's user name can hold a newline and a whole forged line
 * after it, and splitting there would hand that line on as the firewall's own. Relays that pack
 * several messages into one datagram, one per line, need `splitLines` (config
 * `limits.splitDatagramLines`): then the datagram is split on LF, each piece trimmed the same way,
 * and such a user name does split (say so to whoever turns it on). A message longer than
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
export function splitDatagram(data: Buffer, maxMessageBytes: number, sink: DatagramSink, splitLines = false): number {
  let start = 0;
  let count = 0;
  const length = data.length;
  while (start < length) {
    // Unsplit, the one message runs to the end, where its trailing LFs are trimmed with the rest.
    let end = splitLines ? data.indexOf(LF, start) : -1;
    if (end === -1) end = length;
    let stop = end;
    while (stop > start && (data[stop - 1] === CR || data[stop - 1] === NUL || data[stop - 1] === LF)) stop--;
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
