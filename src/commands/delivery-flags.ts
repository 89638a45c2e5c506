import type { Command } from 'commander';
import { validateConfig, type Config } from '../config.js';

/** The quick-start flags of the delivering commands (`run`, `replay`); each overrides its config key. */
export interface DeliveryFlags {
  jimsUrl?: string;
  jimsSecondaryUrl?: string;
  jimsClientId?: string;
  jimsCa?: string;
  state?: string;
}

/** Where the client secret comes from when the config names none: never a flag, which `ps` would show. */
export const SECRET_ENV = 'PTIM_JIMS_CLIENT_SECRET';

export function addDeliveryOptions(command: Command, options: { state?: boolean } = { state: true }): Command {
  command
    .option('--jims-url <url>', 'JIMS base URL, e.g. https://jims.example:443 (jims.url)')
    .option('--jims-secondary-url <url>', 'secondary JIMS, used while the primary fails (jims.secondaryUrl)')
    .option('--jims-client-id <id>', `OAuth2 client id of the JIMS API client (jims.clientId); the secret comes from jims.clientSecret or the ${SECRET_ENV} environment variable`)
    .option('--jims-ca <file>', 'CA bundle (PEM) that signed JIMS\' certificate (jims.ca)');
  if (options.state) command.option('--state <file>', 'state file: session table and the durable outbox (sessions.state)');
  return command;
}

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
