import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { globToRegExp } from '../dispatch/router';
import { UpstreamClient, type AddressGuard, type UpstreamOptions } from './client';

/**
 * A Web Push subscription endpoint or a UnifiedPush endpoint is a URL chosen by the
 * client, so without checks Herald would POST wherever a pusher says: an open relay into
 * the operator's own network. These checks decide where Herald may send.
 */

/** Why an endpoint is not sent to. */
export type EndpointRefusal =
  /** The host is outside `allowed_endpoints` (Sygnal's check). */
  | 'not_allowed'
  /** The host is, or resolves to, a loopback, private, link-local or otherwise non-public address. */
  | 'private_address';

export type EndpointCheck =
  | { readonly kind: 'ok'; readonly url: URL }
  /** The endpoint can never be a push service: the pushkey is rejected. */
  | { readonly kind: 'invalid'; readonly reason: string }
  /** Herald's policy refuses it: not sent, the pushkey kept. */
  | { readonly kind: 'refused'; readonly refusal: EndpointRefusal; readonly reason: string };

export interface EndpointPolicy {
  /** `allowed_endpoints` as patterns over host[:port]; undefined allows every host. */
  readonly allowed?: readonly RegExp[];
  /** Tests and private push services only: skip the address checks. */
  readonly allowPrivate: boolean;
  /** Plain http is accepted for hosts `allowed` names (UnifiedPush distributors on a private network); else https only. */
  readonly httpWhenAllowed?: boolean;
}

/** `allowed_endpoints` globs (`*`, `?`), matched case-insensitively against the whole host[:port], as Sygnal does. */
export function endpointPatterns(globs: readonly string[]): RegExp[] {
  return globs.map((glob) => new RegExp(globToRegExp(glob).source, 'is'));
}

/**
 * Checks what can be known without the network: the URL's form, allowed_endpoints, IP
 * literals. `field` names the endpoint in the reasons (`data.endpoint`, `pushkey`).
 */
export function checkEndpoint(endpoint: string, policy: EndpointPolicy, field = 'data.endpoint'): EndpointCheck {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return { kind: 'invalid', reason: `${field} is not a URL` };
  }
  const allowed = policy.allowed?.some((pattern) => pattern.test(url.host));
  // Browsers only hand out https endpoints (the Push API requires a secure context and service).
  const httpAllowed = url.protocol === 'http:' && policy.httpWhenAllowed === true && allowed === true;
  if (url.protocol !== 'https:' && !httpAllowed) {
    const also = policy.httpWhenAllowed ? ' (http only for hosts in allowed_endpoints)' : '';
    return { kind: 'invalid', reason: `${field} must be an https URL${also}, got ${url.protocol}` };
  }
  if (url.username || url.password) return { kind: 'invalid', reason: `${field} must not carry user credentials` };
  if (allowed === false) {
    return { kind: 'refused', refusal: 'not_allowed', reason: `endpoint host ${url.host} is not in allowed_endpoints` };
  }
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (!policy.allowPrivate && isIP(literal) !== 0 && !isPublicAddress(literal)) {
    return { kind: 'refused', refusal: 'private_address', reason: `endpoint host ${url.host} is not a public address` };
  }
  return { kind: 'ok', url };
}

// Two lists: a BlockList also matches IPv4 addresses against IPv6 rules as IPv4-mapped,
// and the IPv4-mapped range below must not block every IPv4 address.
const NON_PUBLIC_V4 = new BlockList();
const NON_PUBLIC_V6 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  NON_PUBLIC_V4.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['::ffff:0:0', 96], // IPv4-mapped: would reach an IPv4 address unchecked
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  NON_PUBLIC_V6.addSubnet(network, prefix, 'ipv6');
}

/** True for an address on the public internet (not loopback, private, link-local, multicast or reserved). */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return family === 4 ? !NON_PUBLIC_V4.check(address, 'ipv4') : !NON_PUBLIC_V6.check(address, 'ipv6');
}

/** Raised, in place of a connection, when a name resolves to a non-public address. */
export class EndpointRefusedError extends Error {
  readonly code = 'HERALD_ENDPOINT_REFUSED';
  constructor(readonly host: string) {
    super(`${host} resolves to a non-public address`);
    this.name = 'EndpointRefusedError';
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `dns.lookup` for the socket to use when it connects: it resolves the name once and
 * refuses if any address is not public, so the address checked is the address used and
 * a DNS answer that changes between a check and the connection (rebinding) cannot slip
 * through.
 */
export function publicOnlyLookup(hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    if (addresses.length === 0 || addresses.some((entry) => !isPublicAddress(entry.address))) {
      return callback(new EndpointRefusedError(hostname), []);
    }
    if (options.all) return callback(null, addresses);
    const [first] = addresses as [LookupAddress];
    callback(null, first.address, first.family);
  });
}

/** Resolves `hostname` and throws EndpointRefusedError unless every address is public (for sends through a proxy). */
export function assertResolvesPublic(hostname: string): Promise<void> {
  return new Promise((resolve, reject) => {
    publicOnlyLookup(hostname, { all: true }, (err) => (err ? reject(err) : resolve()));
  });
}

/** The upstream client's guard that connects to public addresses only (unless allow_private_endpoints). */
export const PUBLIC_ADDRESSES_ONLY: AddressGuard = { lookup: publicOnlyLookup, check: assertResolvesPublic };

/** The settings Web Push and UnifiedPush apps share for endpoints their users choose. */
export interface UserEndpointSettings {
  readonly maxConnections: number;
  readonly requestTimeoutMs: number;
  readonly ca?: string;
  readonly allowPrivateEndpoints: boolean;
  /** `allowed_endpoints`; undefined allows every host. */
  readonly allowedPatterns?: readonly RegExp[];
}

/** Where such an app may send: `allowed_endpoints`, public addresses unless allow_private_endpoints. */
export function userEndpointPolicy(settings: UserEndpointSettings, httpWhenAllowed = false): EndpointPolicy {
  return {
    allowPrivate: settings.allowPrivateEndpoints,
    httpWhenAllowed,
    ...(settings.allowedPatterns !== undefined ? { allowed: settings.allowedPatterns } : {}),
  };
}

/** The upstream client of such an app: the guard on the address connected to unless allow_private_endpoints. */
export function userEndpointClient(
  settings: UserEndpointSettings,
  options: Pick<UpstreamOptions, 'proxyFor' | 'maxBodyBytes' | 'metrics'>,
): UpstreamClient {
  return new UpstreamClient({
    connections: settings.maxConnections,
    timeoutMs: settings.requestTimeoutMs,
    ...(settings.ca !== undefined ? { ca: settings.ca } : {}),
    ...(settings.allowPrivateEndpoints ? {} : { guard: PUBLIC_ADDRESSES_ONLY }),
    ...options,
  });
}
