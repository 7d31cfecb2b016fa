// What a validated spec derives: the service ClusterIP and the apiserver's SAN list. No zod here:
// the catalogue needs these, and generate with the embedded spec runs without loading zod.
import { canonicalIp, endpointHost, firstServiceIp, ipVersion, parseEndpoint, parseServiceRanges } from './net.js';
import type { Spec } from './schema.js';

/** The ClusterIPs of the `kubernetes` Service: the first address of each service range, the
 *  primary (first) range's first. Two on a dual-stack cluster. */
export function serviceClusterIps(spec: Spec): string[] {
  const ranges = parseServiceRanges(spec.cluster.serviceClusterIpRange);
  if (typeof ranges === 'string') throw new Error(ranges);
  return ranges.map(firstServiceIp);
}

/** The primary ClusterIP of the `kubernetes` Service (the documented SAN). */
export function serviceClusterIp(spec: Spec): string {
  return serviceClusterIps(spec)[0];
}

export interface Sans {
  dns: string[];
  ip: string[];
}

/** kube-apiserver serving SANs: the documented five DNS names, the service ClusterIP, the master IP,
 *  then (dual-stack) the second family's ClusterIP, then extras. The documented list stays a prefix:
 *  a single-stack spec gives exactly the document's master_ssl.cnf. */
export function apiserverSans(spec: Spec, host: { hostname: string; ip: string } = spec.master): Sans {
  const d = spec.cluster.dnsDomain;
  const dns = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${d}`, host.hostname];
  const [primary, ...secondary] = serviceClusterIps(spec);
  const ip = [primary, canonicalIp(host.ip)];
  const lb = endpointHost(spec.controlPlaneEndpoint);
  return appendUnique({ dns, ip }, [...secondary, ...(lb ? [lb] : []), ...spec.master.extraSANs]);
}

/** Where clients reach kube-apiserver: the controlPlaneEndpoint when there is one (a load
 *  balancer in front of every master), else the master's address and secure port. */
export function apiserverUrl(spec: Spec): string {
  const ep = parseEndpoint(spec.controlPlaneEndpoint);
  return ep ? `https://${hostOf(ep.host)}:${ep.port}` : `https://${hostOf(spec.master.ip)}:${spec.master.securePort}`;
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

/** Where an OUT-relative file lives on the cluster's hosts: install.dir + '/' + rel. */
export function onHost(spec: Spec, rel: string): string {
  return `${spec.install.dir.replace(/\/+$/, '')}/${rel}`;
}

/** An address as the host part of a URL or host:port: IPv6 in brackets, in its canonical form. */
export function hostOf(ip: string): string {
  return ipVersion(ip) === 6 ? `[${canonicalIp(ip)}]` : ip;
}
