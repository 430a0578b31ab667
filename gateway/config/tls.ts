// Reads and checks the TLS files the configuration names, so a missing file, a key that is no key, or a key that does not belong to its certificate stops start-up naming the variable.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { GatewayError } from '../core/errors.js';

/** A server certificate (PEM, the chain may follow it) and its private key (PEM, unencrypted). */
export interface TlsIdentity {
  cert: Buffer;
  key: Buffer;
  /** The leaf certificate's SHA-256 fingerprint and validity, for the start log. */
  fingerprint256: string;
  validTo: string;
}

/** One file named by one variable. */
export interface TlsFileVar {
  name: string;
  path: string;
}

/** The certificate and key named by `cert` and `key`, checked to belong together. */
export function loadTlsIdentity(cert: TlsFileVar, key: TlsFileVar): TlsIdentity {
  const certPem = readVar(cert);
  const keyPem = readVar(key);
  const x509 = parseCertificate(cert, certPem);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (err) {
    // An encrypted key would need a passphrase at every start, which an unattended gateway cannot type.
    throw configError(key.name, `${key.path} is not an unencrypted PEM private key (${reason(err)})`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw configError(key.name, `the key in ${key.path} does not belong to the certificate in ${cert.path} (${cert.name})`);
  }
  try {
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    throw configError(cert.name, `${cert.path} cannot be used with its key: ${reason(err)}`);
  }
  return { cert: certPem, key: keyPem, fingerprint256: x509.fingerprint256, validTo: x509.validTo };
}

/** CA certificates (PEM) that client certificates must chain to. */
export function loadCaBundle(ca: TlsFileVar): Buffer {
  const pem = readVar(ca);
  parseCertificate(ca, pem);
  try {
    createSecureContext({ ca: pem });
  } catch (err) {
    throw configError(ca.name, `${ca.path} is not a usable CA bundle: ${reason(err)}`);
  }
  return pem;
}

function readVar(v: TlsFileVar): Buffer {
  const path = resolve(v.path);
  try {
    return readFileSync(path);
  } catch (err) {
    const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : reason(err);
    throw configError(v.name, `cannot read ${path} (${code})`);
  }
}

function parseCertificate(v: TlsFileVar, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw configError(v.name, `${v.path} is not a PEM certificate (${reason(err)})`);
  }
}

function configError(name: string, message: string): GatewayError {
  return new GatewayError('GW_ERR_CONFIG', `${name}: ${message}`);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
