import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A test PKI made by `openssl`: paths to PEM files plus their contents. */
export interface TestCerts {
  dir: string;
  /** CA that signed both leaf certificates. */
  caCert: string;
  caKey: string;
  /** Server certificate for CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1. */
  serverCert: string;
  serverKey: string;
  /** Client certificate (CN=srx-test, extendedKeyUsage clientAuth). */
  clientCert: string;
  clientKey: string;
  /** A second CA and a client certificate it signed (a sender the server must not trust). */
  otherCaCert: string;
  otherClientCert: string;
  otherClientKey: string;
  pem: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
}

let cached: Promise<TestCerts> | undefined;

/**
 * Generates the test PKI once per process (EC P-256 keys: fast) in a temp dir removed at exit.
 * Reuse it from any test: `const certs = await testCerts();`.
 */
export function testCerts(): Promise<TestCerts> {
  cached ??= generate();
  return cached;
}

async function generate(): Promise<TestCerts> {
  const dir = mkdtempSync(join(tmpdir(), 'ptim-certs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const p = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  const key = (name: string) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p(name));

  const ca = async (name: string, cn: string) => {
    await key(`${name}.key`);
    await openssl('req', '-x509', '-new', '-key', p(`${name}.key`), '-subj', `/CN=${cn}`, '-days', '2', '-sha256',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', p(`${name}.crt`));
  };
  const leaf = async (name: string, caName: string, cn: string, ext: string) => {
    await key(`${name}.key`);
    await openssl('req', '-new', '-key', p(`${name}.key`), '-subj', `/CN=${cn}`, '-out', p(`${name}.csr`));
    writeFileSync(p(`${name}.ext`), ext);
    await openssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${caName}.crt`), '-CAkey', p(`${caName}.key`),
      // A serial of its own: leaves are signed in parallel, and a shared ca.srl file races.
      '-set_serial', `0x${randomBytes(12).toString('hex')}`,
      '-days', '2', '-sha256', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`));
  };

  await Promise.all([ca('ca', 'ptim-bridge test CA'), ca('other-ca', 'untrusted test CA')]);
  await Promise.all([
    leaf('server', 'ca', 'localhost', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n'),
    leaf('client', 'ca', 'srx-test', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n'),
  ]);
  await leaf('other-client', 'other-ca', 'intruder', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n');

  const read = (name: string) => readFileSync(p(name), 'utf8');
  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    otherCaCert: p('other-ca.crt'),
    otherClientCert: p('other-client.crt'),
    otherClientKey: p('other-client.key'),
    pem: { ca: read('ca.crt'), serverCert: read('server.crt'), serverKey: read('server.key'), clientCert: read('client.crt'), clientKey: read('client.key') },
  };
}
