import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  /** PEM of the CA certificate, and its path. */
  caPem: string;
  caFile: string;
  /** A server certificate for `names` (IP addresses or DNS names) signed by this CA. */
  issue(names: readonly string[], label?: string): { cert: string; key: string };
}

/**
 * A throwaway certificate authority made with the openssl CLI in `dir` (EC P-256, valid two
 * days), for tests that need real TLS verification, name mismatches included.
 */
export function createTestCa(dir: string): TestCa {
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.pem');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caFile,
    '-days', '2', '-subj', '/CN=ptim-bridge test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  let n = 0;
  return {
    dir,
    caFile,
    caPem: readFileSync(caFile, 'utf8'),
    issue(names, label = `leaf${++n}`) {
      const key = join(dir, `${label}.key`);
      const csr = join(dir, `${label}.csr`);
      const crt = join(dir, `${label}.pem`);
      const ext = join(dir, `${label}.ext`);
      const san = names.map((name) => (/^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
      writeFileSync(ext, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n`);
      openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${names[0] ?? 'test'}`]);
      openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-set_serial', `0x${randomBytes(12).toString('hex')}`, '-out', crt, '-days', '2', '-extfile', ext]);
      return { cert: readFileSync(crt, 'utf8'), key: readFileSync(key, 'utf8') };
    },
  };
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
