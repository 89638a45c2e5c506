import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate the test CA signed: PEM contents and the files they are in. */
export interface IssuedCert {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

export interface TestCa {
  dir: string;
  /** PEM of the CA certificate, and its path. */
  caPem: string;
  caFile: string;
  /**
   * A certificate signed by this CA, files `<label>.pem` / `<label>.key` in `dir`. By default a
   * server certificate for `names` (IP addresses or DNS names, as SANs; CN = the first name);
   * `clientAuth` makes it a client certificate, `cn` sets the common name.
   */
  issue(names: readonly string[], label?: string, options?: { clientAuth?: boolean; cn?: string }): IssuedCert;
}

/**
 * A throwaway certificate authority made with the openssl CLI in `dir` (EC P-256, valid two
 * days), for tests that need real TLS verification, name mismatches included. `name` prefixes
 * its files (two CAs can share a dir), `cn` is its subject.
 */
export function createTestCa(dir: string, { name = 'ca', cn = 'ptim-bridge test CA' }: { name?: string; cn?: string } = {}): TestCa {
  const caKey = join(dir, `${name}.key`);
  const caFile = join(dir, `${name}.pem`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caFile,
    '-days', '2', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  let n = 0;
  return {
    dir,
    caFile,
    caPem: readFileSync(caFile, 'utf8'),
    issue(names, label = `leaf${++n}`, options = {}) {
      const keyFile = join(dir, `${label}.key`);
      const csr = join(dir, `${label}.csr`);
      const certFile = join(dir, `${label}.pem`);
      const ext = join(dir, `${label}.ext`);
      const san = names.map((name) => (/^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
      writeFileSync(ext, `${san ? `subjectAltName=${san}\n` : ''}basicConstraints=CA:FALSE\nextendedKeyUsage=${options.clientAuth ? 'clientAuth' : 'serverAuth'}\nkeyUsage=digitalSignature\n`);
      openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${options.cn ?? names[0] ?? 'test'}`]);
      // A serial of its own: a shared serial file races when tests sign at the same time.
      openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-set_serial', `0x${randomBytes(12).toString('hex')}`, '-out', certFile, '-days', '2', '-extfile', ext]);
      return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile };
    },
  };
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
