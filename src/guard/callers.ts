import { BlockList, isIP } from 'node:net';

/** One `http.allowed_callers` entry: an address, or a network in CIDR notation. */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a single address (`/32` or `/128` implied); a problem as text otherwise. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const address = (slash === -1 ? text : text.slice(0, slash)).trim();
  const version = isIP(address);
  if (version === 0) return `${JSON.stringify(address)} is not an IPv4 or IPv6 address`;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (slash === -1) return { address, prefix: max, family };
  const prefixText = text.slice(slash + 1).trim();
  const prefix = Number(prefixText);
  if (!/^\d+$/.test(prefixText) || prefix > max) return `the prefix length after "/" must be a whole number from 0 to ${max}, got ${JSON.stringify(prefixText)}`;
  return { address, prefix, family };
}

/**
 * Which client addresses may call the gateway: the networks of `http.allowed_callers`.
 * node:net's BlockList does the matching, including IPv4 clients seen as IPv4-mapped
 * IPv6 addresses (`::ffff:10.0.0.5`) on a dual-stack listener.
 */
export class CallerAllowList {
  private readonly list = new BlockList();

  constructor(networks: readonly Cidr[]) {
    for (const network of networks) this.list.addSubnet(network.address, network.prefix, network.family);
  }

  /** Whether `address` (a socket's remote address or the trusted X-Forwarded-For entry) may call. */
  allows(address: string | undefined): boolean {
    if (address === undefined) return false;
    const version = isIP(address);
    if (version === 0) return false;
    return this.list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  }
}
