import assert from 'node:assert/strict';
import { CallerAllowList, parseCidr, type Cidr } from '../../../src/guard/callers';

function list(...cidrs: string[]): CallerAllowList {
  return new CallerAllowList(cidrs.map((text) => parseCidr(text) as Cidr));
}

describe('guard/callers', () => {
  describe('parseCidr', () => {
    const good: Array<[string, Cidr]> = [
      ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
      ['192.0.2.7', { address: '192.0.2.7', prefix: 32, family: 'ipv4' }],
      ['2001:db8::/32', { address: '2001:db8::', prefix: 32, family: 'ipv6' }],
      ['::1', { address: '::1', prefix: 128, family: 'ipv6' }],
      ['0.0.0.0/0', { address: '0.0.0.0', prefix: 0, family: 'ipv4' }],
    ];
    for (const [text, cidr] of good) it(`reads ${text}`, () => assert.deepEqual(parseCidr(text), cidr));

    const bad: Array<[string, RegExp]> = [
      ['10.0.0.300/8', /not an IPv4 or IPv6 address/],
      ['example.org', /not an IPv4 or IPv6 address/],
      ['10.0.0.0/33', /from 0 to 32/],
      ['2001:db8::/129', /from 0 to 128/],
      ['10.0.0.0/', /from 0 to 32/],
      ['10.0.0.0/8.5', /from 0 to 32/],
      ['10.0.0.0/-1', /from 0 to 32/],
    ];
    for (const [text, problem] of bad) it(`refuses ${text}`, () => assert.match(String(parseCidr(text)), problem));
  });

  describe('CallerAllowList', () => {
    const cases: Array<[string, string[], string | undefined, boolean]> = [
      ['an address inside a network', ['10.0.0.0/8'], '10.20.30.40', true],
      ['an address outside it', ['10.0.0.0/8'], '11.0.0.1', false],
      ['a single address', ['192.0.2.7'], '192.0.2.7', true],
      ['its neighbour', ['192.0.2.7'], '192.0.2.8', false],
      ['an IPv4 client on a dual-stack listener (IPv4-mapped IPv6)', ['10.0.0.0/8'], '::ffff:10.1.2.3', true],
      ['an IPv6 network', ['2001:db8::/32'], '2001:db8:1::5', true],
      ['IPv6 loopback', ['::1'], '::1', true],
      ['IPv4 loopback is not IPv6 loopback', ['::1'], '127.0.0.1', false],
      ['any of several entries', ['10.0.0.0/8', '192.168.0.0/16'], '192.168.1.1', true],
      ['no address at all (a closed socket)', ['0.0.0.0/0'], undefined, false],
      ['something that is not an address', ['0.0.0.0/0'], 'unknown', false],
    ];
    for (const [name, cidrs, address, allowed] of cases) it(name, () => assert.equal(list(...cidrs).allows(address), allowed));
  });
});
