import { validateConfig, type Config } from '../config.js';
import { SECRET_ENV, type DeliveryFlags } from './delivery-options.js';

/**
 * The config with the flags applied, validated again (a flag gets the same checks as its key).
 * @throws ConfigError naming the flag's key when a value is invalid.
 */
export function applyDeliveryFlags(config: Config, flags: DeliveryFlags): Config {
  const jims = { ...config.jims };
  if (flags.jimsUrl !== undefined) jims.url = flags.jimsUrl;
  if (flags.jimsSecondaryUrl !== undefined) jims.secondaryUrl = flags.jimsSecondaryUrl;
  if (flags.jimsClientId !== undefined) jims.clientId = flags.jimsClientId;
  if (flags.jimsCa !== undefined) jims.ca = flags.jimsCa;
  jims.clientSecret ??= `env:${SECRET_ENV}`;
  const sessions = flags.state === undefined ? config.sessions : { ...config.sessions, state: flags.state };
  return validateConfig({ ...config, jims, sessions });
}
