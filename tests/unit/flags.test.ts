import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FLAG_RULES, flagFiles, flagsFor } from '../../src/catalog/flags.js';
import { renderFlagFile, parseFlagFile } from '../../src/render/flags.js';
import { defaultSpec, parseSpecText } from '../../src/spec/load.js';
import { FIXTURES } from '../helpers/cli.js';

const withVersion = (v: string) => parseSpecText(`cluster: { kubernetesVersion: "${v}" }\nmaster: { hostname: k8s-master, ip: 192.168.18.3 }\nnodes: [{ name: k8s-node-1, ip: 192.168.18.4 }]\n`, 'x');

test('kube-apiserver for the default spec: the document\'s line, paths under install.dir, plus what 1.34 requires', () => {
  const spec = defaultSpec();
  const f = flagFiles(spec).find((x) => x.component === 'kube-apiserver')!;
  expect(renderFlagFile(spec, f)).toBe(readFileSync(path.join(FIXTURES, 'expected/kube-apiserver-1.34.env'), 'utf8'));
});

test('1.23 still has --insecure-port, --logtostderr and --log-dir; 1.34 does not; both require the SA issuer', () => {
  const spec = withVersion('1.23');
  const f = flagFiles(spec).find((x) => x.component === 'kube-apiserver')!;
  expect(renderFlagFile(spec, f)).toBe(readFileSync(path.join(FIXTURES, 'expected/kube-apiserver-1.23.env'), 'utf8'));
});

test('two versions differ exactly where the table says', () => {
  const a = withVersion('1.23');
  const b = withVersion('1.34');
  for (const file of flagFiles(b)) {
    const fa = new Map(flagsFor(a, file));
    const fb = new Map(flagsFor(b, file));
    const onlyA = [...fa.keys()].filter((k) => !fb.has(k)).sort();
    const onlyB = [...fb.keys()].filter((k) => !fa.has(k)).sort();
    const rules = FLAG_RULES.filter((r) => r.component === file.component);
    const expectOnlyA = rules.filter((r) => r.until !== undefined && 23 < r.until && 34 >= r.until).map((r) => r.flag).sort();
    const expectOnlyB = rules.filter((r) => r.since !== undefined && 23 < r.since && 34 >= r.since).map((r) => r.flag).sort();
    expect(onlyA).toEqual(expectOnlyA);
    expect(onlyB).toEqual(expectOnlyB);
  }
  // and the table says what the issue says
  const api = new Map(flagsFor(a, flagFiles(a)[0]));
  expect(api.has('--insecure-port')).toBe(true);
  expect(new Map(flagsFor(b, flagFiles(b)[0])).has('--insecure-port')).toBe(false);
  const v19 = withVersion('1.19');
  expect(new Map(flagsFor(v19, flagFiles(v19)[0])).has('--service-account-issuer')).toBe(false);
  expect(new Map(flagsFor(withVersion('1.20'), flagFiles(v19)[0])).get('--service-account-issuer')).toBe('https://kubernetes.default.svc.cluster.local');
  expect(new Map(flagsFor(withVersion('1.25'), flagFiles(v19)[0])).has('--log-dir')).toBe(true);
  expect(new Map(flagsFor(withVersion('1.26'), flagFiles(v19)[0])).has('--log-dir')).toBe(false);
});

test('every rule names its source; versions are in order', () => {
  for (const r of FLAG_RULES) {
    expect(r.source.length).toBeGreaterThan(5);
    if (r.since !== undefined && r.until !== undefined) expect(r.since).toBeLessThan(r.until);
  }
});

test('controller-manager, scheduler, kubelet and kube-proxy files', () => {
  const spec = defaultSpec();
  const byComp = new Map(flagFiles(spec).map((f) => [f.path, parseFlagFile(renderFlagFile(spec, f))!]));
  expect([...byComp.keys()]).toEqual(['flags/kube-apiserver.env', 'flags/kube-controller-manager.env', 'flags/kube-scheduler.env', 'flags/kubelet-k8s-node-1.env', 'flags/kube-proxy.env']);
  const cm = byComp.get('flags/kube-controller-manager.env')!;
  expect(cm.variable).toBe('KUBE_CONTROLLER_MANAGER_ARGS');
  expect(cm.flags.get('--kubeconfig')).toBe('/var/run/kubernetes/kubeconfig/kube-controller-manager.kubeconfig');
  expect(cm.flags.get('--service-account-private-key-file')).toBe('/var/run/kubernetes/sa.key');
  expect(cm.flags.get('--root-ca-file')).toBe('/var/run/kubernetes/ca.crt');
  expect(cm.flags.get('--cluster-signing-cert-file')).toBe('/var/run/kubernetes/ca.crt');
  expect(cm.flags.get('--cluster-signing-key-file')).toBe('/var/run/kubernetes/ca.key');
  expect(byComp.get('flags/kube-scheduler.env')!.variable).toBe('KUBE_SCHEDULER_ARGS');
  const kubelet = byComp.get('flags/kubelet-k8s-node-1.env')!;
  expect(kubelet.variable).toBe('KUBELET_ARGS');
  expect(kubelet.flags.get('--kubeconfig')).toBe('/var/run/kubernetes/kubeconfig/kubelet-k8s-node-1.kubeconfig');
  expect(kubelet.flags.get('--hostname-override')).toBe('k8s-node-1');
  expect(byComp.get('flags/kube-proxy.env')!.flags.get('--kubeconfig')).toBe('/var/run/kubernetes/kubeconfig/kube-proxy.kubeconfig');
});
