// `kubepki init --schema`: the spec's JSON Schema names every field a spec may hold, with the
// choices the spec allows, so that an editor can complete and check a spec file.
import { jsonSchema } from '../../src/commands/init.js';
import { DEFAULT_SPEC } from '../../src/spec/default.js';

type Node = { properties?: Record<string, Node>; enum?: string[]; additionalProperties?: boolean; type?: string; items?: Node };

test('every top-level field of the spec, unknown keys refused, the key algorithms by kubeadm names', async () => {
  const s = JSON.parse(await jsonSchema()) as Node & { $schema: string };
  expect(s.$schema).toMatch(/json-schema\.org/);
  expect(Object.keys(s.properties!).sort()).toEqual(Object.keys(DEFAULT_SPEC).sort());
  expect(s.additionalProperties).toBe(false);
  const algorithms = ['RSA-2048', 'RSA-3072', 'RSA-4096', 'ECDSA-P256', 'ECDSA-P384'];
  expect(s.properties!.certs.properties!.keyAlgorithm.enum).toEqual(algorithms);
  expect(s.properties!.ca.properties!.keyAlgorithm.enum).toEqual(algorithms);
  expect(s.properties!.serviceAccount.properties!.keyAlgorithm.enum).toEqual(algorithms);
  expect(Object.keys(s.properties!.admin.properties!)).toEqual(['group', 'superAdmin']);
  expect(Object.keys(s.properties!.masters.items!.properties!)).toEqual(['hostname', 'ip']);
});
