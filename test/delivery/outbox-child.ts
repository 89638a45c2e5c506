/**
 * A stand-in for the bridge process in the kill -9 test: it owns the state file, the outbox and a
 * forwarder to the simulator, and takes commands on stdin, one per line:
 *   add <from> <count>  queue events makeEvent(from..from+count-1) in ticks of 100, one
 *                       transaction per tick; prints "accepted <n>" after each commit (n = last index + 1)
 *   drain               prints "drained" once the outbox is empty
 * Prints "ready" when started. Arguments: <state file> <jims config as JSON>.
 */
import { createInterface } from 'node:readline';
import { Registry } from 'prom-client';
import { validateConfig } from '../../src/config.js';
import { Forwarder } from '../../src/delivery/forwarder.js';
import { createJimsClient } from '../../src/delivery/jims-client.js';
import { Outbox } from '../../src/delivery/outbox.js';
import { silentLogger } from '../../src/log.js';
import { openStateDb } from '../../src/state-db.js';
import { makeEvent } from './make-events.js';

const [file, jimsJson] = process.argv.slice(2);
const jims = validateConfig({ jims: JSON.parse(jimsJson!) as unknown }).jims;
const db = openStateDb(file!);
const registry = new Registry();
const log = silentLogger();
const outbox = new Outbox(db, { registry });
const client = await createJimsClient(jims, { log, registry });
const forwarder = new Forwarder({ outbox, client, jims, log, registry });
forwarder.start();
process.stdout.write('ready\n');

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const [command, a, b] = line.trim().split(/\s+/);
  if (command === 'add') {
    const from = Number(a);
    const end = from + Number(b);
    for (let i = from; i < end; i += 100) {
      const last = Math.min(end, i + 100);
      db.transaction(() => outbox.add(Array.from({ length: last - i }, (_, k) => makeEvent(i + k, 'connect'))))();
      forwarder.notify();
      process.stdout.write(`accepted ${last}\n`);
      // Let the forwarder run between ticks, as the bridge's event loop would.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } else if (command === 'drain') {
    await forwarder.drained();
    process.stdout.write('drained\n');
  }
}
await forwarder.stop();
client.close();
db.close();
