import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCa } from './test-ca.js';

/** A test PKI made by `openssl`: paths to PEM files plus their contents. */
export interface TestCerts {
  /** CA that signed both leaf certificates. */
  caCert: string;
  /** Server certificate for CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1. */
  serverCert: string;
  serverKey: string;
  /** Client certificate (CN=srx-test, extendedKeyUsage clientAuth). */
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by a second CA (a sender the server must not trust). */
  otherClientCert: string;
  otherClientKey: string;
  pem: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
}

let cached: Promise<TestCerts> | undefined;

/**
 * Generates the test PKI once per process (createTestCa: EC P-256 keys, fast) in a temp dir
 * removed at exit. Reuse it from any test: `const certs = await testCerts();`.
 */
export function testCerts(): Promise<TestCerts> {
  cached ??= Promise.resolve().then(generate);
  return cached;
}

function generate(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'ptim-certs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const ca = createTestCa(dir);
  const other = createTestCa(dir, { name: 'other-ca', cn: 'untrusted test CA' });
  const server = ca.issue(['localhost', '127.0.0.1', '::1'], 'server');
  const client = ca.issue([], 'client', { clientAuth: true, cn: 'srx-test' });
  const intruder = other.issue([], 'other-client', { clientAuth: true, cn: 'intruder' });
  return {
    caCert: ca.caFile,
    serverCert: server.certFile,
    serverKey: server.keyFile,
    clientCert: client.certFile,
    clientKey: client.keyFile,
    otherClientCert: intruder.certFile,
    otherClientKey: intruder.keyFile,
    pem: { ca: ca.caPem, serverCert: server.cert, serverKey: server.key, clientCert: client.cert, clientKey: client.key },
  };
}
