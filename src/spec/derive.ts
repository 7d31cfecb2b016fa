// What a validated spec derives: the service ClusterIP and the apiserver's SAN list. No zod here:
// the catalogue needs these, and generate with the embedded spec runs without loading zod.
import { canonicalIp, firstServiceIp, ipVersion, parseCidr } from './net.js';
import type { Spec } from './schema.js';

/** What the spec derives: the service ClusterIP and the apiserver's SAN list, in the documented order. */
export function serviceClusterIp(spec: Spec): string {
  const range = parseCidr(spec.cluster.serviceClusterIpRange);
  if (typeof range === 'string') throw new Error(range);
  return firstServiceIp(range);
}

export interface Sans {
  dns: string[];
  ip: string[];
}

/** kube-apiserver serving SANs: the documented five DNS names, the service ClusterIP, the master IP, then extras. */
export function apiserverSans(spec: Spec): Sans {
  const d = spec.cluster.dnsDomain;
  const dns = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${d}`, spec.master.hostname];
  const ip = [serviceClusterIp(spec), canonicalIp(spec.master.ip)];
  return appendUnique({ dns, ip }, spec.master.extraSANs);
}

export function appendUnique(base: Sans, extras: string[]): Sans {
  const dns = [...base.dns];
  const ip = [...base.ip];
  for (const e of extras) {
    if (ipVersion(e) !== 0) {
      const c = canonicalIp(e);
      if (!ip.includes(c)) ip.push(c);
    } else if (!dns.includes(e)) dns.push(e);
  }
  return { dns, ip };
}
