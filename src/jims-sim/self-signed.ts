import { randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export interface CertificatePair {
  /** PEM certificate (for a self-signed one, also the CA a client must trust). */
  cert: string;
  /** PEM private key. */
  key: string;
}

/**
 * A fresh self-signed server certificate for the given host names and addresses (plus
 * 127.0.0.1, ::1 and localhost, so a loopback client always matches). EC P-256 with SHA-256:
 * fast to make, accepted by OpenSSL 3 defaults. Valid from an hour ago (clock skew) for 30 days.
 * Generated locally, no network. Throws only if the crypto library fails.
 */
export async function generateSelfSigned(hosts: readonly string[] = []): Promise<CertificatePair> {
  const names = [...new Set([...hosts, '127.0.0.1', '::1', 'localhost'])];
  const altNames = names.map((name) => (isIP(name) ? { type: 7 as const, ip: name } : { type: 2 as const, value: name }));
  const now = Date.now();
  // A subject of its own per certificate: OpenSSL finds a trusted certificate by subject name, so
  // two simulators (primary and secondary) with the same subject in one --jims-ca bundle would
  // leave the second one refused as "self-signed".
  const subject = [
    { name: 'commonName', value: hosts[0] ?? 'localhost' },
    { shortName: 'OU', value: `ptim-bridge jims-sim ${randomBytes(6).toString('hex')}` },
  ];
  const pems = await generate(subject, {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 3_600_000),
    notAfterDate: new Date(now + 30 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/**
 * SHA-256 fingerprint of a PEM certificate as colon-separated hex ("AB:CD:..."), the form
 * `openssl x509 -fingerprint -sha256` and browsers show, so an operator can compare by eye.
 * @throws TypeError when the text is not a PEM certificate.
 */
export function fingerprint256(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}
