import type { Command } from 'commander';

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('Check a config file, or print its JSON Schema.');

  config
    .command('check')
    .description('Check a config file as `run --config FILE` would (schema, listen URLs and ports, allow-list and CIDRs, readable files, resolvable secrets, valid patterns), list every problem with file:line (exit 2), else print the effective settings (defaults filled in, secrets as references).')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--quiet', 'print nothing when the file is valid')
    .addHelpText('after', `
It checks the file as \`run --config FILE\` reads it without other flags; the client secret may
come from the PTIM_JIMS_CLIENT_SECRET environment variable, as for run.

Examples:
  $ ptim-bridge config check --config ptim-bridge.yaml
  $ ptim-bridge config check --config ptim-bridge.yaml --quiet && systemctl restart ptim-bridge`)
    .action(async (opts: { config: string; quiet?: boolean }) => {
      const [{ effectiveConfig }, { preflight, preflightError }] = await Promise.all([import('../effective-config.js'), import('../preflight.js')]);
      // As run reads the file without flags; the JIMS settings are checked when the file names a
      // JIMS URL (a dry-run config needs none).
      const effective = effectiveConfig(opts.config, { use: 'check' });
      const problems = await preflight(effective);
      if (problems.length > 0) throw preflightError(problems, effective);
      if (!opts.quiet) {
        process.stdout.write(`${opts.config}: valid\n${JSON.stringify(effective.config, null, 2)}\n`);
      }
    });

  config
    .command('schema')
    .description('Print the JSON Schema of the config file (for editor completion and validation).')
    .addHelpText('after', `
Example:
  $ ptim-bridge config schema > ptim-bridge.schema.json`)
    .action(async () => {
      const { configJsonSchema } = await import('../config.js');
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
