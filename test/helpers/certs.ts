// Certificates made at test time with the openssl command line: a CA, a server certificate for 127.0.0.1/localhost, and client certificates signed by the CA.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OPENSSL = 'openssl';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  ca: CertFiles;
  server: CertFiles;
  /** A client certificate per name given, signed by the CA, its subject CN = the name. */
  clients: Record<string, CertFiles & { fingerprint256: string }>;
  /** A self-signed client certificate no CA vouches for, CN = "btn-001". */
  stranger: CertFiles;
}

function openssl(dir: string, args: string[]): void {
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function ecKey(dir: string, name: string): string {
  const key = join(dir, `${name}.key`);
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  return key;
}

/** Signs a certificate for `cn` with the CA; `ext` is the x509v3 extension section. */
function issue(dir: string, ca: CertFiles, name: string, cn: string, ext: string): CertFiles {
  const key = ecKey(dir, name);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, ext);
  openssl(dir, ['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    extFile,
    '-out',
    cert,
  ]);
  return { cert, key };
}

/** Makes the whole set in `dir` (a temp dir the test removes). */
export function makeTestPki(dir: string, clientNames: readonly string[] = ['btn-001']): TestPki {
  const caKey = ecKey(dir, 'ca');
  const ca = { key: caKey, cert: join(dir, 'ca.crt') };
  openssl(dir, ['req', '-x509', '-new', '-key', caKey, '-subj', '/CN=care-gateway test CA', '-days', '2', '-out', ca.cert]);
  const server = issue(dir, ca, 'server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  const clients: TestPki['clients'] = {};
  for (const name of clientNames) {
    const files = issue(dir, ca, `client-${name}`, name, 'extendedKeyUsage=clientAuth\n');
    clients[name] = { ...files, fingerprint256: new X509Certificate(readFileSync(files.cert)).fingerprint256 };
  }
  const strangerKey = ecKey(dir, 'stranger');
  const stranger = { key: strangerKey, cert: join(dir, 'stranger.crt') };
  openssl(dir, ['req', '-x509', '-new', '-key', strangerKey, '-subj', '/CN=btn-001', '-days', '2', '-out', stranger.cert]);
  return { dir, ca, server, clients, stranger };
}
