import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FLAG_RULES, flagFiles, flagsFor } from '../../src/catalog/flags.js';
import { renderFlagFile, parseFlagFile } from '../../src/render/flags.js';
import { defaultSpec, parseSpecText } from '../../src/spec/load.js';
import { FIXTURES } from '../helpers/cli.js';

const withVersion = (v: string) => parseSpecText(`cluster: { kubernetesVersion: "${v}" }\nmaster: { hostname: k8s-master, ip: 192.168.18.3 }\nnodes: [{ name: k8s-node-1, ip: 192.168.18.4 }]\n`, 'x');

test('kube-apiserver for the default spec: the document\'s line, paths under install.dir, plus what its version requires', () => {
  const spec = defaultSpec();
  const f = flagFiles(spec).find((x) => x.component === 'kube-apiserver')!;
  expect(renderFlagFile(spec, f)).toBe(readFileSync(path.join(FIXTURES, `expected/kube-apiserver-${spec.cluster.kubernetesVersion}.env`), 'utf8'));
});

test.each(['1.34', '1.37'])('kube-apiserver %s for the documented cluster', (v) => {
  const spec = withVersion(v);
  const f = flagFiles(spec).find((x) => x.component === 'kube-apiserver')!;
  expect(renderFlagFile(spec, f)).toBe(readFileSync(path.join(FIXTURES, `expected/kube-apiserver-${v}.env`), 'utf8'));
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
    // a flag is written for a version when one of its rules covers that version (a flag whose
    // value changes has one rule up to the change and one from it)
    const rules = FLAG_RULES.filter((r) => r.component === file.component);
    const covered = (minor: number) => new Set(rules.filter((r) => (r.since ?? 0) <= minor && minor < (r.until ?? Infinity)).map((r) => r.flag));
    const [in23, in34] = [covered(23), covered(34)];
    const expectOnlyA = [...in23].filter((f) => !in34.has(f)).sort();
    const expectOnlyB = [...in34].filter((f) => !in23.has(f)).sort();
    expect(expectOnlyA).toEqual(expect.arrayContaining(file.component === 'kube-apiserver' ? ['--insecure-port', '--log-dir', '--logtostderr'] : ['--log-dir', '--logtostderr']));
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

test('every rule names its source; versions are in order; no two rules of a flag cover the same version', () => {
  for (const r of FLAG_RULES) {
    expect(r.source.length).toBeGreaterThan(5);
    if (r.since !== undefined && r.until !== undefined) expect(r.since).toBeLessThan(r.until);
  }
  for (let minor = 19; minor <= 40; minor++) {
    const seen = new Set<string>();
    for (const r of FLAG_RULES.filter((x) => (x.since ?? 0) <= minor && minor < (x.until ?? Infinity))) {
      expect(seen.has(`${r.component} ${r.flag}`)).toBe(false);
      seen.add(`${r.component} ${r.flag}`);
    }
  }
});

const apiserverFlags = (v: string) => {
  const spec = withVersion(v);
  return new Map(flagsFor(spec, flagFiles(spec).find((x) => x.component === 'kube-apiserver')!));
};

test('NodeRestriction is admitted beside the Node authorizer from 1.24 on; 1.23 keeps the document\'s plugin list', () => {
  const doc = 'NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ResourceQuota';
  expect(apiserverFlags('1.23').get('--enable-admission-plugins')).toBe(doc);
  for (const v of ['1.24', '1.34', '1.37']) {
    const f = apiserverFlags(v);
    expect(f.get('--enable-admission-plugins')).toBe(`${doc},NodeRestriction`);
    expect(f.get('--authorization-mode')).toBe('Node,RBAC');
  }
});

test('kubelets refuse anonymous requests and ask kube-apiserver to authenticate tokens and authorize requests', () => {
  for (const v of ['1.23', '1.34', '1.37']) {
    const spec = withVersion(v);
    const f = new Map(flagsFor(spec, flagFiles(spec).find((x) => x.component === 'kubelet')!));
    expect(f.get('--anonymous-auth')).toBe('false');
    expect(f.get('--authentication-token-webhook')).toBe('true');
    expect(f.get('--authorization-mode')).toBe('Webhook');
    expect(f.get('--client-ca-file')).toBe('/var/run/kubernetes/ca.crt');
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
