import type { Config } from '../config.js';
import type { ReceivedMessage } from '../flow/pipeline-records.js';
import { createAllowList, type AllowList } from './allow-list.js';

/**
 * Which sender may speak for which firewall. A line names its device in the syslog host field,
 * and any allowed sender can write any host name there: without a binding, one compromised (or
 * spoofed: UDP source addresses are not authenticated) sender could connect, disconnect or take
 * the IPs of every other firewall's users. Config `devices:` binds each host name to the addresses
 * and TLS client-certificate names it may arrive from.
 */
export interface DeviceBinding {
  /**
   * The device a live line speaks for: its host (spelled as in the config) when the sender is bound to that host; for a line
   * without a host, the one device its sender is bound to. Undefined when the line may not speak
   * for a device (reject it as `device-not-bound`).
   */
  deviceFor(host: string | undefined, msg: ReceivedMessage): string | undefined;
}

interface BoundDevice {
  name: string;
  senders: AllowList;
  certNames: ReadonlySet<string>;
}

/**
 * Builds the binding from config `devices` (host names compared without case) and
 * `senders.allowUnboundDevices` (hosts not listed pass as they are; a hostless line from a sender
 * bound to no single device is named by its address).
 * @throws BridgeError ERR_CONFIG_INVALID for a bad address or CIDR.
 */
export function createDeviceBinding(devices: Config['devices'], allowUnbound: boolean): DeviceBinding {
  const byName = new Map<string, BoundDevice>();
  for (const [name, d] of Object.entries(devices)) {
    byName.set(name.toLowerCase(), { name, senders: createAllowList(d.senders, false, `devices.${name}.senders`), certNames: new Set(d.certNames.map((n) => n.toLowerCase())) });
  }
  const all = [...byName.values()];
  const speaksFor = (d: BoundDevice, msg: ReceivedMessage): boolean =>
    d.senders.allows(msg.sender) || (msg.peerNames !== undefined && msg.peerNames.some((n) => d.certNames.has(n)));
  return {
    deviceFor(host, msg) {
      if (host !== undefined) {
        const d = byName.get(host.toLowerCase());
        if (d === undefined) return allowUnbound ? host : undefined;
        // The config's spelling: `SRX-HQ` and `srx-hq` are one firewall, with one session table entry.
        return speaksFor(d, msg) ? d.name : undefined;
      }
      const mine = all.filter((d) => speaksFor(d, msg));
      if (mine.length === 1) return mine[0]!.name;
      return allowUnbound && mine.length === 0 ? msg.sender : undefined;
    },
  };
}
