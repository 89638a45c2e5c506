import type { Command } from 'commander';

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

/**
 * Adds the delivery flags to a command. Apart from src/effective-config.ts (which lays them over the
 * config and needs the config schema) so that registering `run` and `replay` loads nothing heavy.
 */
export function addDeliveryOptions(command: Command, options: { state?: boolean } = { state: true }): Command {
  command
    .option('--jims-url <url>', 'JIMS base URL, e.g. https://jims.example:443 (jims.url)')
    .option('--jims-secondary-url <url>', 'secondary JIMS, used while the primary fails (jims.secondaryUrl)')
    .option('--jims-client-id <id>', `OAuth2 client id of the JIMS API client (jims.clientId); the secret comes from jims.clientSecret or the ${SECRET_ENV} environment variable`)
    .option('--jims-ca <file>', 'CA bundle (PEM) that signed JIMS\' certificate (jims.ca)');
  if (options.state) command.option('--state <file>', 'state file: session table and the durable outbox (sessions.state)');
  return command;
}
