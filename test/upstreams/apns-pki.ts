import { execFileSync } from 'node:child_process';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp';

/**
 * Throwaway TLS material for the APNs tests, made with the openssl CLI into a temp
 * dir the first time a test asks for it (nothing secret is committed) and removed
 * when the process exits. RSA for the CA and client certificates, as Apple uses, so
 * node-apn's own certificate checks (node-forge, RSA only) run for real.
 */
export interface ApnsTestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly caPem: string;
  /** The mock server's key and certificate (SAN 127.0.0.1 and localhost). */
  readonly serverKey: string;
  readonly serverCert: string;
  /** PEM files holding a client certificate and its key, by which push OIDs they carry. */
  readonly clientCerts: {
    readonly both: string;
    readonly sandbox: string;
    readonly production: string;
    readonly none: string;
    /** Both OIDs, but expires in 10 days. */
    readonly expiringSoon: string;
    /** Both OIDs, already expired. */
    readonly expired: string;
    /** `both` as PKCS#12, encrypted with `p12Passphrase`. */
    readonly p12: string;
  };
  readonly p12Passphrase: string;
  /** Token auth: an EC P-256 .p8 key as Apple hands out, its public half for the mock. */
  readonly tokenKey: { readonly file: string; readonly publicKey: KeyObject; readonly keyId: string; readonly teamId: string };
  /** Keys that are not EC P-256, for the start-up checks. */
  readonly badKeys: { readonly p384: string; readonly rsa: string };
}

const EXTENSIONS = `
[server]
subjectAltName = IP:127.0.0.1, DNS:localhost
extendedKeyUsage = serverAuth
[both]
extendedKeyUsage = clientAuth
1.2.840.113635.100.6.3.1 = ASN1:NULL
1.2.840.113635.100.6.3.2 = ASN1:NULL
[sandbox]
extendedKeyUsage = clientAuth
1.2.840.113635.100.6.3.1 = ASN1:NULL
[production]
extendedKeyUsage = clientAuth
1.2.840.113635.100.6.3.2 = ASN1:NULL
[none]
extendedKeyUsage = clientAuth
`;

let cached: ApnsTestPki | undefined;

export function apnsTestPki(): ApnsTestPki {
  cached ??= makePki();
  return cached;
}

function makePki(): ApnsTestPki {
  const dir = tempDir('apns-test');
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const path = (name: string) => join(dir, name);
  writeFileSync(path('ext.cnf'), EXTENSIONS);

  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'ca.key');
  openssl('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=Herald test CA', '-days', '2', '-out', 'ca.pem');

  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'server.key');
  openssl('req', '-new', '-key', 'server.key', '-subj', '/CN=localhost', '-out', 'server.csr');
  sign('server.csr', 'server.pem', 'server', 2, 2);

  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'client.key');
  openssl('req', '-new', '-key', 'client.key', '-subj', '/CN=Apple Push Services: com.example.app/UID=com.example.app', '-out', 'client.csr');
  const clientKey = readFileSync(path('client.key'), 'utf8');
  const client = (name: string, extensions: string, serial: number, days: number): string => {
    sign('client.csr', `${name}.crt`, extensions, serial, days);
    // Sygnal's certfile: the certificate and its key in one PEM file.
    writeFileSync(path(`${name}.pem`), readFileSync(path(`${name}.crt`), 'utf8') + clientKey);
    return path(`${name}.pem`);
  };
  const clientCerts = {
    both: client('client-both', 'both', 10, 365),
    sandbox: client('client-sandbox', 'sandbox', 11, 365),
    production: client('client-production', 'production', 12, 365),
    none: client('client-none', 'none', 13, 365),
    expiringSoon: client('client-soon', 'both', 14, 10),
    // A negative validity makes notAfter lie before now: an expired certificate.
    expired: client('client-expired', 'both', 15, -1),
    p12: path('client-both.p12'),
  };
  const p12Passphrase = 'test-p12-passphrase';
  openssl('pkcs12', '-export', '-in', 'client-both.crt', '-inkey', 'client.key', '-passout', `pass:${p12Passphrase}`, '-out', 'client-both.p12');

  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'AuthKey_ABC123DEFG.p8');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'AuthKey_P384.p8');
  const tokenFile = path('AuthKey_ABC123DEFG.p8');

  return {
    dir,
    caFile: path('ca.pem'),
    caPem: readFileSync(path('ca.pem'), 'utf8'),
    serverKey: readFileSync(path('server.key'), 'utf8'),
    serverCert: readFileSync(path('server.pem'), 'utf8'),
    clientCerts,
    p12Passphrase,
    tokenKey: { file: tokenFile, publicKey: createPublicKey(readFileSync(tokenFile)), keyId: 'ABC123DEFG', teamId: 'TEAM123456' },
    badKeys: { p384: path('AuthKey_P384.p8'), rsa: path('client.key') },
  };

  function sign(csr: string, out: string, extensions: string, serial: number, days: number): void {
    openssl('x509', '-req', '-in', csr, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(serial),
      '-days', String(days), '-extfile', 'ext.cnf', '-extensions', extensions, '-out', out);
  }
}
