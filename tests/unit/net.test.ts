import { canonicalIp, firstServiceIp, isDns1123Subdomain, parseCidr, parseServiceRanges } from '../../src/spec/net.js';

describe('service ClusterIP: the first host address of the range', () => {
  test.each([
    ['169.169.0.0/16', '169.169.0.1'],
    ['10.96.0.0/12', '10.96.0.1'],
    ['10.0.0.0/30', '10.0.0.1'],
    ['fd00:10:96::/112', 'fd00:10:96::1'],
    ['2001:db8::/64', '2001:db8::1'],
    ['fd00::/108', 'fd00::1'],
  ])('%s -> %s', (range, ip) => {
    const r = parseCidr(range);
    if (typeof r === 'string') throw new Error(r);
    expect(firstServiceIp(r)).toBe(ip);
  });
  test('ranges too small, or with host bits, are refused with a reason', () => {
    expect(parseCidr('10.0.0.0/31')).toMatch(/too small/);
    expect(parseCidr('10.0.0.1/24')).toMatch(/host bits set; the network address is 10\.0\.0\.0\/24/);
    expect(parseCidr('10.0.0.0/33')).toMatch(/prefix longer than 32/);
    expect(parseCidr('fd00::1/64')).toMatch(/network address is fd00::\/64/);
  });
});

test('IPv6 addresses are written the way certificates and Go print them', () => {
  expect(canonicalIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
  expect(canonicalIp('::1')).toBe('::1');
  expect(canonicalIp('fd00:0:0:1:0:0:0:0')).toBe('fd00:0:0:1::');
  expect(canonicalIp('::ffff:192.168.1.1')).toBe('::ffff:c0a8:101');
  expect(canonicalIp('192.168.018.3'.replace('018', '18'))).toBe('192.168.18.3');
});

test('DNS-1123 host names', () => {
  expect(isDns1123Subdomain('k8s-master')).toBe(true);
  expect(isDns1123Subdomain('kubernetes.default.svc.cluster.local')).toBe(true);
  for (const bad of ['', 'K8S', '-a', 'a-', 'a_b', 'a/b', 'a..b', 'x'.repeat(64), 'k8s/O=system:masters']) expect(isDns1123Subdomain(bad)).toBe(false);
});

describe('service ranges as kube-apiserver reads --service-cluster-ip-range', () => {
  const firsts = (s: string) => {
    const r = parseServiceRanges(s);
    if (typeof r === 'string') throw new Error(r);
    return r.map(firstServiceIp);
  };
  test('one range, or a dual-stack pair in either order: the first address of each, primary first', () => {
    expect(firsts('169.169.0.0/16')).toEqual(['169.169.0.1']);
    expect(firsts('10.96.0.0/12,fd00:10:96::/112')).toEqual(['10.96.0.1', 'fd00:10:96::1']);
    expect(firsts('fd00:10:96::/112,10.96.0.0/12')).toEqual(['fd00:10:96::1', '10.96.0.1']);
  });
  test('more than two, two of one family, spaces or an empty part are refused with a reason', () => {
    expect(parseServiceRanges('10.96.0.0/12,fd00::/112,fd01::/112')).toMatch(/has 3 ranges/);
    expect(parseServiceRanges('fd00::/112,fd01::/112')).toMatch(/two IPv6 ranges/);
    expect(parseServiceRanges('10.96.0.0/12, fd00::/112')).toMatch(/without spaces/);
    expect(parseServiceRanges('10.96.0.0/12,')).toMatch(/without spaces/);
    expect(parseServiceRanges('banana')).toMatch(/"banana" is not a CIDR range/);
  });
});
