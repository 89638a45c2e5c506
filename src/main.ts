// Process entry: bin/ptim-bridge.js runs the compiled copy; tests run this file through tsx.
import { main } from './cli.js';

await main(process.argv);
