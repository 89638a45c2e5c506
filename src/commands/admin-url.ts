import { BridgeError } from '../errors.js';

/**
 * The URL of `path` on a running bridge's metrics/admin listener: `--url` (its base, e.g.
 * http://127.0.0.1:9464; a path in it is replaced), else `metrics.listen` of `--config` (a listener
 * on 0.0.0.0 or [::] is asked on loopback). Shared by `health`, `stats --url` and `tap`.
 * @throws BridgeError ERR_USAGE for a bad --url, both or neither given, or a config without metrics.listen.
 */
export async function adminUrl(flags: { url?: string; config?: string }, path: string): Promise<URL> {
  if (flags.url !== undefined && flags.config !== undefined) {
    throw new BridgeError('ERR_USAGE', 'Expected --url or --config, got both. Give one: --url names the metrics address, --config the file whose metrics.listen it is.');
  }
  if (flags.url !== undefined) {
    let url: URL;
    try {
      url = new URL(flags.url);
    } catch {
      throw new BridgeError('ERR_USAGE', `Expected --url an http://HOST:PORT URL, got ${JSON.stringify(flags.url)}. Example: --url http://127.0.0.1:9464`);
    }
    if (url.protocol !== 'http:') {
      throw new BridgeError('ERR_USAGE', `Expected --url an http:// URL (the metrics listener is plain HTTP), got ${JSON.stringify(flags.url)}. Example: --url http://127.0.0.1:9464`);
    }
    return new URL(path, url);
  }
  if (flags.config === undefined) {
    throw new BridgeError('ERR_USAGE', "Expected --config (the bridge's config, with metrics.listen) or --url (its metrics address), got neither.");
  }
  // Loaded here, not at start-up: `--help` and the other commands must not pay for it (src/cli.ts).
  const { loadConfig } = await import('../config.js');
  const listen = loadConfig(flags.config).metrics.listen;
  if (listen === undefined) {
    throw new BridgeError('ERR_USAGE', `Expected \`metrics.listen\` in ${flags.config}, got nothing: without it the bridge serves no admin endpoints. Set it, e.g. \`metrics: { listen: 127.0.0.1:9464 }\`.`, { file: flags.config, key: 'metrics.listen' });
  }
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at).replace(/^\[|\]$/g, '');
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return new URL(`http://${shown}:${listen.slice(at + 1)}${path}`);
}

/** Why a request to a bridge failed, in words for the operator. */
export function unreachable(url: URL, detail: string): BridgeError {
  return new BridgeError('ERR_NOT_READY', `${url.href} did not answer (${detail}). Is the bridge running and delivering (\`ptim-bridge health\`), and does it serve metrics on this address (metrics.listen)?`);
}
