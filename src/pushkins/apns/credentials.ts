import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type forge from 'node-forge';

/**
 * Start-up checks on APNs credentials, so a wrong file fails `herald check-config`
 * with a clear message instead of every push failing later. Reads only the bytes it
 * is given: the config reader does the file I/O.
 */

/** Extensions Apple puts on push certificates, one per environment the certificate may use. */
export const APPLE_PUSH_OIDS = {
  sandbox: '1.2.840.113635.100.6.3.1',
  production: '1.2.840.113635.100.6.3.2',
} as const;

export type ApnsEnvironment = keyof typeof APPLE_PUSH_OIDS;

/** Certificates expiring sooner than this get a start-up warning. */
export const EXPIRY_WARNING_MS = 30 * 24 * 3600 * 1000;

export type Loaded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export interface LoadedCertificate {
  readonly certificate: X509Certificate;
  /** PEM input: the certificate and key blocks, handed to TLS as they are. */
  readonly pem?: { readonly cert: string; readonly key: string };
  /** PKCS#12 input: handed to TLS as is. */
  readonly pfx?: Buffer;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

/** A PEM file holding the certificate and its private key (Sygnal's `certfile`). */
export function loadPemCertificate(text: string, passphrase: string | undefined): Loaded<LoadedCertificate> {
  const certPem = PEM_CERT.exec(text)?.[0];
  const keyPem = PEM_KEY.exec(text)?.[0];
  if (certPem === undefined) return { ok: false, error: 'no certificate (BEGIN CERTIFICATE) found in the PEM file' };
  if (keyPem === undefined) return { ok: false, error: 'no private key found in the PEM file: it must hold the certificate and its key' };
  let certificate: X509Certificate;
  let key: KeyObject;
  try {
    certificate = new X509Certificate(certPem);
  } catch (err) {
    return { ok: false, error: `the certificate cannot be read: ${(err as Error).message}` };
  }
  try {
    key = createPrivateKey({ key: keyPem, ...(passphrase !== undefined ? { passphrase } : {}) });
  } catch (err) {
    const encrypted = keyPem.includes('ENCRYPTED');
    if (encrypted && passphrase === undefined) return { ok: false, error: 'the private key is encrypted: set `passphrase`' };
    return { ok: false, error: `the private key cannot be read${encrypted ? ' (wrong passphrase?)' : ''}: ${(err as Error).message}` };
  }
  if (!certificate.checkPrivateKey(key)) return { ok: false, error: 'the private key does not belong to the certificate' };
  return { ok: true, value: { certificate, pem: { cert: certPem, key: keyPem } } };
}

/**
 * node-forge, loaded for certificate authentication only: it costs megabytes that token
 * authentication (and a process serving no APNs app) never needs. Config reading is
 * synchronous, hence require.
 */
function loadForge(): typeof forge {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a synchronous, on-demand load
  return require('node-forge') as typeof forge;
}

/**
 * The environments whose Apple push extension the certificate carries. Node's
 * X509Certificate does not list custom extensions; node-forge does (and node-apn reads
 * them with it too, so a certificate forge cannot read would not start anyway).
 */
export function pushEnvironments(certificate: X509Certificate): Set<ApnsEnvironment> {
  const forge = loadForge();
  const parsed = forge.pki.certificateFromAsn1(forge.asn1.fromDer(certificate.raw.toString('binary')));
  const ids = new Set((parsed.extensions as Array<{ id?: string }>).map((extension) => extension.id));
  return new Set((['sandbox', 'production'] as const).filter((environment) => ids.has(APPLE_PUSH_OIDS[environment])));
}

/** A .p12/.pfx export from Keychain Access. */
export function loadPkcs12Certificate(data: Buffer, passphrase: string | undefined): Loaded<LoadedCertificate> {
  const forge = loadForge();
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(data.toString('binary')), false, passphrase ?? '');
  } catch (err) {
    const message = (err as Error).message;
    if (/password/i.test(message)) return { ok: false, error: `cannot open the .p12 file: wrong or missing \`passphrase\`` };
    return { ok: false, error: `not a readable .p12 file: ${message}` };
  }
  const certBag = p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag]?.[0];
  if (certBag === undefined) return { ok: false, error: 'the .p12 file holds no certificate' };
  // forge leaves `cert` empty for signature algorithms it doesn't know, but keeps the ASN.1.
  const asn1 = certBag.cert ? forge.pki.certificateToAsn1(certBag.cert) : certBag.asn1;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary'));
  } catch (err) {
    return { ok: false, error: `the certificate in the .p12 file cannot be read: ${(err as Error).message}` };
  }
  const keyBags = p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag })[forge.pki.oids.pkcs8ShroudedKeyBag] ?? [];
  const forgeKey = keyBags[0]?.key;
  if (keyBags.length === 0) return { ok: false, error: 'the .p12 file holds no private key: export the certificate together with its key' };
  try {
    if (forgeKey && !certificate.checkPrivateKey(createPrivateKey(forge.pki.privateKeyToPem(forgeKey)))) {
      return { ok: false, error: 'the private key in the .p12 file does not belong to its certificate' };
    }
  } catch (err) {
    return { ok: false, error: `the private key in the .p12 file cannot be read: ${(err as Error).message}` };
  }
  return { ok: true, value: { certificate, pfx: data } };
}

export interface CertificateProblems {
  readonly errors: string[];
  readonly warnings: string[];
}

/**
 * Is this certificate usable for `environment` at `now`? `needsSandboxOid`: node-apn
 * insists on the sandbox extension whenever the host is not Apple's production one
 * (so with `endpoint`), and refuses to start otherwise; saying so here is clearer.
 */
export function checkCertificate(
  certificate: X509Certificate,
  environment: ApnsEnvironment,
  now: number,
  needsSandboxOid = false,
): CertificateProblems {
  const errors: string[] = [];
  const warnings: string[] = [];
  let environments: Set<ApnsEnvironment>;
  try {
    environments = pushEnvironments(certificate);
  } catch (err) {
    return { errors: [`the certificate's extensions cannot be read: ${(err as Error).message}`], warnings };
  }
  if (!environments.has(environment)) {
    errors.push(
      `the certificate has no Apple push extension for ${environment} (OID ${APPLE_PUSH_OIDS[environment]}): ` +
        `is it an APNs certificate, and is \`platform\` right?`,
    );
  } else if (needsSandboxOid && environment === 'production' && !environments.has('sandbox')) {
    errors.push(
      `with \`endpoint\` set, node-apn requires the sandbox push extension (OID ${APPLE_PUSH_OIDS.sandbox}) on the certificate`,
    );
  }
  const notAfter = Date.parse(certificate.validTo);
  const notBefore = Date.parse(certificate.validFrom);
  if (notAfter <= now) {
    errors.push(`the certificate expired on ${new Date(notAfter).toISOString()}`);
  } else if (notAfter - now < EXPIRY_WARNING_MS) {
    warnings.push(`the certificate expires on ${new Date(notAfter).toISOString()}; renew it soon`);
  }
  if (notBefore > now) warnings.push(`the certificate is not valid before ${new Date(notBefore).toISOString()}`);
  return { errors, warnings };
}

/** An APNs auth key (.p8): must be an EC P-256 private key, as ES256 needs. */
export function checkTokenKey(text: string): string | undefined {
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    return 'not a private key in PEM form: expected the AuthKey_<key id>.p8 file from Apple';
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return `not an EC P-256 key (got ${key.asymmetricKeyType}${curve ? ` ${curve}` : ''}): expected the AuthKey_<key id>.p8 file from Apple`;
  }
  return undefined;
}
