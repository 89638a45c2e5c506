import type { Envelope, RecordedFields } from '../flow/pipeline-records.js';

/**
 * Applies what an export recorded beside a line (JSON-lines and CSV replay) to the line's envelope.
 * The recorded instant wins: exports keep it with year and zone, while an RFC 3164 header has
 * neither. Host, daemon and PID fill in only what the text lacks: a firewall's own header names the
 * firewall, while an export's host field often names the collector (Filebeat's `host.name`). A
 * daemon from the export (journald's SYSLOG_IDENTIFIER) makes a message-only line face the same
 * foreign-daemon check as a full one: `logger -t sshd IKE_VPN_...` stays refused.
 */
export function overlayRecorded(envelope: Envelope, recorded: RecordedFields): void {
  if (recorded.time !== undefined && Number.isFinite(recorded.time)) envelope.time = new Date(recorded.time);
  if (envelope.host === undefined && recorded.host !== undefined) envelope.host = recorded.host;
  if (envelope.app === undefined && recorded.app !== undefined) {
    envelope.app = recorded.app;
    if (envelope.pid === undefined && recorded.pid !== undefined) envelope.pid = recorded.pid;
  }
  if (envelope.format === 'bare' && (envelope.host !== undefined || envelope.app !== undefined)) envelope.format = 'file';
}
