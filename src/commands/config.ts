import type { Command } from 'commander';
import { configJsonSchema, loadConfig } from '../config.js';

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('Check a config file, or print its JSON Schema.');

  config
    .command('check')
    .description('Validate a config file and print the effective settings (defaults filled in, secrets as references).')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--quiet', 'print nothing when the file is valid')
    .addHelpText('after', `
Examples:
  $ ptim-bridge config check --config ptim-bridge.yaml
  $ ptim-bridge config check --config ptim-bridge.yaml --quiet && systemctl restart ptim-bridge`)
    .action((opts: { config: string; quiet?: boolean }) => {
      const loaded = loadConfig(opts.config);
      if (!opts.quiet) {
        process.stdout.write(`${opts.config}: valid\n${JSON.stringify(loaded, null, 2)}\n`);
      }
    });

  config
    .command('schema')
    .description('Print the JSON Schema of the config file (for editor completion and validation).')
    .addHelpText('after', `
Example:
  $ ptim-bridge config schema > ptim-bridge.schema.json`)
    .action(() => {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
