// The README's certificate tables are the catalogue's: a row added to one and not the other, or a
// CA, CN, O or extended key usage that differs, fails here.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { catalogue, isCert, type CertRow } from '../../src/catalog/certs.js';
import { parseSpecText } from '../../src/spec/load.js';
import { ROOT } from '../helpers/cli.js';

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const spec = parseSpecText(
  'master: { hostname: cp-1, ip: 10.0.0.1 }\nnodes: [{ name: n1, ip: 10.0.0.2 }]\netcd: { mode: tls, members: [{ name: e1, ip: 10.0.0.11 }] }\nfrontProxy: true\n',
  'full.yaml',
);
const entries = catalogue(spec);
const rows = entries.filter(isCert);

/** the rows of the first markdown table after a heading line */
function table(heading: string): string[][] {
  const lines = README.slice(README.indexOf(heading)).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const out: string[][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break;
    out.push(l.split('|').slice(1, -1).map((c) => c.trim()));
  }
  return out;
}
const unquote = (s: string) => s.replace(/`/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
/** a documented name with its placeholders filled for this spec */
const named = (s: string) => unquote(s).replace('<member>', 'e1').replace('<node>', 'n1');

describe('### The certificates, side by side with kubeadm', () => {
  const doc = table('### The certificates, side by side with kubeadm');
  const documented = rows.filter((r) => r.group !== 'client');

  test('names every certificate that is not a client of kube-apiserver, and no other', () => {
    expect(doc.map((c) => named(c[0]))).toEqual(documented.map((r) => r.id));
  });

  test.each(documented.map((r) => [r.id, r] as [string, CertRow]))('%s: its CA and extended key usage', (id, r) => {
    const c = doc.find((x) => named(x[0]) === id)!;
    expect(c[2]).toBe(r.signer ?? 'self');
    const eku = c[5];
    if (r.kind === 'ca') expect(eku).toBe('');
    else if (r.eku === null) expect(eku).toMatch(/^none/);
    else expect(eku).toBe(r.eku.join(', '));
  });

  test('a fixed CN is documented as the catalogue has it', () => {
    for (const r of documented) {
      const cn = unquote(doc.find((x) => named(x[0]) === r.id)![3]);
      if (/^[a-z-]+$/.test(cn)) expect([r.id, cn]).toEqual([r.id, r.cn]);
    }
  });
});

describe('## Output layout: the identities', () => {
  const doc = table('## Output layout');
  const clients = rows.filter((r) => r.group === 'client');
  test('names every built-in client of kube-apiserver with its CN and O', () => {
    expect(doc.map((c) => [named(c[0]).replace(' (kubectl)', ''), named(c[1]), named(c[2])])).toEqual(clients.map((r) => [r.id, r.cn, r.o.join(', ')]));
  });
});
