// Process entry: bin/ptim-bridge.js runs the compiled copy; tests run this file through tsx.
import { endQuietlyOnClosedOutput } from './closed-output.js';
import { packageVersion } from './package-version.js';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // What commander would print, without loading it or the command index: start-up (src/cli.ts).
  endQuietlyOnClosedOutput();
  process.stdout.write(`${packageVersion()}\n`);
} else {
  const { main } = await import('./cli.js');
  await main(process.argv);
}
