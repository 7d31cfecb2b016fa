// openssl .cnf files rendered with `ini`, plus what ini lacks: ini.stringify drops empty sections
// (openssl then fails: "Unable to get 'req_distinguished_name' section") and quotes or escapes
// values that openssl would read literally. We render section by section and refuse any value
// ini would have to escape (the spec's validation keeps such values out).
import { stringify } from 'ini';
import { CA_SECTION, CLIENT_CNF, MASTER_CNF, type CertRow } from '../catalog/certs.js';

type Section = [name: string, body: Record<string, string>];

export function renderIni(sections: Section[], header: string[] = []): string {
  const out: string[] = header.map((h) => `# ${h}`);
  for (const [name, body] of sections) {
    out.push(`[${name}]`);
    const text = stringify(body, { whitespace: true });
    for (const [k, v] of Object.entries(body)) {
      if (!text.includes(`${k} = ${v}\n`) || /[$"'\\;#\n]/.test(v)) {
        throw new Error(`internal: config value ${k} = ${JSON.stringify(v)} would be mangled`);
      }
    }
    out.push(...text.split('\n').filter(Boolean));
  }
  return out.join('\n') + '\n';
}

/** [req] + [req_distinguished_name] + [v3_req] + [alt_names]: the shape of the document's master_ssl.cnf. */
export function renderReqCnf(row: CertRow, title: string): string {
  if (!row.sans || !row.keyUsage) throw new Error(`internal: ${row.id} has no SANs`);
  const v3: Record<string, string> = { basicConstraints: 'CA:FALSE', keyUsage: row.keyUsage.join(', ') };
  if (row.eku) v3.extendedKeyUsage = row.eku.join(', ');
  v3.subjectAltName = '@alt_names';
  const alt: Record<string, string> = {};
  row.sans.dns.forEach((d, i) => (alt[`DNS.${i + 1}`] = d));
  row.sans.ip.forEach((ip, i) => (alt[`IP.${i + 1}`] = ip));
  return renderIni(
    [
      ['req', { req_extensions: 'v3_req', distinguished_name: 'req_distinguished_name' }],
      ['req_distinguished_name', {}],
      ['v3_req', v3],
      ['alt_names', alt],
    ],
    [title],
  );
}

export function renderClientCnf(keyUsage: string[] = ['digitalSignature', 'keyEncipherment']): string {
  return renderIni(
    [['v3_client', { basicConstraints: 'CA:FALSE', keyUsage: keyUsage.join(', '), extendedKeyUsage: 'clientAuth' }]],
    [`${CLIENT_CNF}: x509 v3 extensions for client certificates (kubepki; without -extfile OpenSSL 3 writes v1)`],
  );
}

/** A CA's config for `req -x509 -config FILE -extensions v3_ca`: the extensions and [req] settings
 *  that the documented command takes from Debian's default openssl.cnf, so that the CA is the
 *  same certificate whatever the system's configuration (OPENSSL_CONF=/dev/null, a distribution
 *  without v3_ca) and byte for byte the documented command's on Debian's default one. */
export function renderCaCnf(row: CertRow): string {
  return renderIni(
    [
      ['req', { distinguished_name: 'req_distinguished_name', string_mask: 'utf8only' }],
      ['req_distinguished_name', {}],
      [CA_SECTION, { subjectKeyIdentifier: 'hash', authorityKeyIdentifier: 'keyid:always,issuer', basicConstraints: 'critical,CA:true' }],
    ],
    [`${row.ext!.file}: the self-signed CA's extensions (Debian's default openssl.cnf, v3_ca), independent of the system's openssl.cnf`],
  );
}

/** Every .cnf the rows need, path -> content, in first-use order. */
export function renderConfigs(rows: CertRow[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of rows) {
    if (!r.ext || out.has(r.ext.file)) continue;
    if (r.kind === 'ca') out.set(r.ext.file, renderCaCnf(r));
    else if (r.ext.file === CLIENT_CNF) out.set(r.ext.file, renderClientCnf(r.keyUsage ?? undefined));
    else out.set(r.ext.file, renderReqCnf(r, r.ext.file === MASTER_CNF ? MASTER_CNF : `${r.ext.file}: ${r.description}`));
  }
  return out;
}
