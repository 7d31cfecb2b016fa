// Addresses and names: parsing and validation used by the spec and the SAN list.
// Pure functions, no I/O.
import { isIP } from 'node:net';

/** DNS-1123 subdomain: lower-case labels of [a-z0-9-], not starting or ending with '-', 253 chars max. */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function isDns1123Subdomain(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((l) => LABEL.test(l));
}

/** DNS-1123 label: one label only (node names, cluster names, file names). */
export function isDns1123Label(name: string): boolean {
  return LABEL.test(name);
}

export function ipVersion(s: string): 0 | 4 | 6 {
  return isIP(s) as 0 | 4 | 6;
}

/** Parses an IPv4 or IPv6 address to a BigInt and its bit width. */
export function ipToBigInt(ip: string): { value: bigint; bits: 32 | 128 } {
  const v = isIP(ip);
  if (v === 4) {
    const parts = ip.split('.').map(Number);
    return { value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n), bits: 32 };
  }
  if (v === 6) {
    let s = ip;
    // an embedded IPv4 tail (::ffff:1.2.3.4)
    const v4 = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
    if (v4) {
      const n = ipToBigInt(v4[1]).value;
      s = s.slice(0, -v4[1].length) + ((n >> 16n) & 0xffffn).toString(16) + ':' + (n & 0xffffn).toString(16);
    }
    const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const fill = tail !== undefined ? 8 - h.length - t.length : 0;
    const groups = [...h, ...Array(fill).fill('0'), ...t];
    return { value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n), bits: 128 };
  }
  throw new Error(`not an IP address: ${ip}`);
}

export function bigIntToIp(value: bigint, bits: 32 | 128): string {
  if (bits === 32) {
    return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 0xffn).toString()).join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  return compressIpv6(groups);
}

function compressIpv6(groups: string[]): string {
  // RFC 5952: the longest run (>= 2) of zero groups becomes '::'
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return groups.slice(0, best).join(':') + '::' + groups.slice(best + bestLen).join(':');
}

/** Canonical text of an IP address (IPv6 compressed and lower-case) — how certificates and Go print it. */
export function canonicalIp(ip: string): string {
  const { value, bits } = ipToBigInt(ip);
  return bigIntToIp(value, bits);
}

export interface Cidr {
  network: bigint;
  prefix: number;
  bits: 32 | 128;
  text: string;
}

/** Parses "a.b.c.d/n" or "x::/n". Returns an error sentence instead of throwing. */
export function parseCidr(s: string): Cidr | string {
  const m = s.match(/^([^/]+)\/(\d{1,3})$/);
  if (!m) return `"${s}" is not a CIDR range (address/prefix, e.g. 169.169.0.0/16)`;
  if (!isIP(m[1])) return `"${s}" is not a CIDR range: "${m[1]}" is not an IP address`;
  const { value, bits } = ipToBigInt(m[1]);
  const prefix = Number(m[2]);
  if (prefix > bits) return `"${s}" has a prefix longer than ${bits} bits`;
  const hostBits = BigInt(bits - prefix);
  if (hostBits < 2n) return `"${s}" is too small for a service range: it has no room for the kubernetes Service address`;
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << hostBits) - 1n);
  if ((value & mask) !== value) {
    return `"${s}" has host bits set; the network address is ${bigIntToIp(value & mask, bits)}/${prefix}`;
  }
  return { network: value, prefix, bits, text: s };
}

/** The ClusterIP of the `kubernetes` Service: the first host address of the service range. */
export function firstServiceIp(range: Cidr): string {
  return bigIntToIp(range.network + 1n, range.bits);
}

/** kube-apiserver's --service-cluster-ip-range: one range, or two separated by a comma (dual-stack),
 *  then of different families. The first is the primary: the `kubernetes` Service takes its first
 *  address. Returns an error sentence instead of throwing. */
export function parseServiceRanges(s: string): Cidr[] | string {
  const parts = s.split(',');
  if (parts.length > 2) return `"${s}" has ${parts.length} ranges; kube-apiserver takes one, or two of different families (IPv4,IPv6) for dual-stack`;
  const ranges: Cidr[] = [];
  for (const part of parts) {
    if (part !== part.trim() || part === '') return `"${s}": write the ranges separated by a comma without spaces, as kube-apiserver reads them, e.g. "10.96.0.0/12,fd00:10:96::/112"`;
    const r = parseCidr(part);
    if (typeof r === 'string') return parts.length > 1 ? `in "${s}": ${r}` : r;
    ranges.push(r);
  }
  if (ranges.length === 2 && ranges[0].bits === ranges[1].bits) {
    return `"${s}" has two IPv${ranges[0].bits === 32 ? 4 : 6} ranges; a dual-stack range is one IPv4 and one IPv6 range (kube-apiserver refuses two of one family)`;
  }
  return ranges;
}

/** 4 or 6, the family of a parsed range */
export const cidrFamily = (r: Cidr): 4 | 6 => (r.bits === 32 ? 4 : 6);

/** A controlPlaneEndpoint "host:port" taken apart: the host ([…] stripped), whether it was in
 *  brackets, and the port as written; undefined when it is not of that form. */
export function parseEndpoint(ep: string): { host: string; bracketed: boolean; port: string } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(ep);
  return m ? { host: m[1] ?? m[2], bracketed: m[1] !== undefined, port: m[3] } : undefined;
}

/** The host of a validated controlPlaneEndpoint ("" when none). */
export const endpointHost = (ep: string): string => parseEndpoint(ep)?.host ?? '';
