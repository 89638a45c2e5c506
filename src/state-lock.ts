import { hostname } from 'node:os';
import { BridgeError } from './errors.js';
import type { StateDb } from './state-db.js';

/**
 * One delivering process per state file. Two forwarders reading one outbox would send every
 * event twice and could let a disconnect overtake its connect, so a `run` or a delivering `replay`
 * takes the file first. The owner row names the process; a row left by a process that died
 * (kill -9, power loss) is taken over, which is what makes a restart after a crash just work.
 */
export interface StateLock {
  release(): void;
}

/**
 * @throws BridgeError ERR_STATE_LOCKED when a live process on this host holds the file.
 */
export function lockState(db: StateDb, purpose: string, pid = process.pid): StateLock {
  db.exec('CREATE TABLE IF NOT EXISTS state_owner (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, host TEXT NOT NULL, purpose TEXT NOT NULL, since TEXT NOT NULL)');
  const host = hostname();
  db.transaction(() => {
    const owner = db.prepare('SELECT pid, host, purpose, since FROM state_owner WHERE id = 1').get() as
      | { pid: number; host: string; purpose: string; since: string }
      | undefined;
    if (owner && owner.pid !== pid && owner.host === host && isAlive(owner.pid)) {
      throw new BridgeError(
        'ERR_STATE_LOCKED',
        `State file ${db.name} is in use by process ${owner.pid} (${owner.purpose}, since ${owner.since}). Stop that process, or give this one its own file with --state.`,
        { file: db.name },
      );
    }
    db.prepare('INSERT OR REPLACE INTO state_owner (id, pid, host, purpose, since) VALUES (1, ?, ?, ?, ?)').run(pid, host, purpose, new Date().toISOString());
  })();
  return {
    release() {
      if (db.open) db.prepare('DELETE FROM state_owner WHERE id = 1 AND pid = ?').run(pid);
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else; still alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Who holds a state file: the owner row, if a live process on this host wrote it. */
export function stateOwner(db: StateDb): { pid: number; purpose: string; since: string } | undefined {
  let owner: { pid: number; host: string; purpose: string; since: string } | undefined;
  try {
    owner = db.prepare('SELECT pid, host, purpose, since FROM state_owner WHERE id = 1').get() as typeof owner;
  } catch {
    return undefined; // No owner table: nobody ever ran on this file.
  }
  if (!owner || owner.host !== hostname() || !isAlive(owner.pid)) return undefined;
  return { pid: owner.pid, purpose: owner.purpose, since: owner.since };
}
