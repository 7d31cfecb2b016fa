// The test helpers' choice of a real kubectl: a versioned binary, else a distribution's own,
// never the sdk's dispatcher (it contacts the kubeconfig's server on every call).
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findKubectl } from '../helpers/tools.js';
import { tmpDir } from '../helpers/tmp.js';

function layout(versions: string[], system: 'none' | 'dispatcher' | 'distribution') {
  const root = tmpDir();
  const sdk = path.join(root, 'sdk/bin');
  mkdirSync(sdk, { recursive: true });
  writeFileSync(path.join(sdk, 'kubectl'), '');
  for (const v of versions) writeFileSync(path.join(sdk, `kubectl.${v}`), '');
  const sys = path.join(root, 'usr-bin-kubectl');
  if (system === 'dispatcher') symlinkSync(path.join(sdk, 'kubectl'), sys);
  if (system === 'distribution') writeFileSync(sys, '');
  return { sdk, sys };
}

test('the newest versioned kubectl is chosen', () => {
  const { sdk, sys } = layout(['1.9', '1.27', '1.33', '1.30'], 'dispatcher');
  expect(findKubectl({}, sdk, sys)).toBe(path.join(sdk, 'kubectl.1.33'));
});

test('without versioned binaries a distribution kubectl is chosen, never the dispatcher', () => {
  const d = layout([], 'distribution');
  expect(findKubectl({}, d.sdk, d.sys)).toBe(d.sys);
  const g = layout([], 'dispatcher');
  expect(findKubectl({}, g.sdk, g.sys)).toMatch(/none installed/);
});

test('KUBEPKI_TEST_KUBECTL wins', () => {
  const { sdk, sys } = layout(['1.33'], 'none');
  expect(findKubectl({ KUBEPKI_TEST_KUBECTL: '/opt/kubectl' }, sdk, sys)).toBe('/opt/kubectl');
});
