// An external two-level CA made with openssl, as an organisation's PKI would hand one over: a root
// CA and an intermediate it signed, whose key signs the cluster's certificates. kubepki sees only
// the bundle (intermediate first, then the root) as OUT/ca.crt.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface ExternalCa {
  rootCrt: string;
  intermediateCrt: string;
  intermediateKey: string;
  /** the intermediate, then the root: what OUT/ca.crt is */
  bundle: string;
}

function run(argv: string[], cwd: string): string {
  const r = spawnSync(argv[0], argv.slice(1), { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} (in ${cwd}): exit ${r.status}\n${r.stderr}${r.error?.message ?? ''}`);
  return r.stdout;
}

const EXTENSIONS = `[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[intermediate]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/** A root CA and an intermediate signed by it, both ECDSA P-256, in `dir`. */
export function makeTwoLevelCa(dir: string, days = 30): ExternalCa {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(dir, 'ca-ext.cnf'), EXTENSIONS);
  const ec = (out: string) => run(['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out], dir);
  ec('root.key');
  run(['openssl', 'req', '-x509', '-new', '-key', 'root.key', '-subj', '/O=kubepki test/CN=kubepki test root CA', '-days', String(days), '-config', 'ca-ext.cnf', '-extensions', 'root', '-out', 'root.crt'], dir);
  ec('intermediate.key');
  run(['openssl', 'req', '-new', '-key', 'intermediate.key', '-subj', '/O=kubepki test/CN=kubepki test issuing CA', '-config', 'ca-ext.cnf', '-out', 'intermediate.csr'], dir);
  run(
    ['openssl', 'x509', '-req', '-in', 'intermediate.csr', '-CA', 'root.crt', '-CAkey', 'root.key', '-CAcreateserial', '-days', String(days), '-extfile', 'ca-ext.cnf', '-extensions', 'intermediate', '-out', 'intermediate.crt'],
    dir,
  );
  const bundle = readFileSync(path.join(dir, 'intermediate.crt'), 'utf8') + readFileSync(path.join(dir, 'root.crt'), 'utf8');
  return { rootCrt: path.join(dir, 'root.crt'), intermediateCrt: path.join(dir, 'intermediate.crt'), intermediateKey: path.join(dir, 'intermediate.key'), bundle };
}

export interface ToSign {
  name: string;
  csr: string;
  crt: string;
  command: string;
}

/** Runs each listed signing command in `out` as kubepki printed it, with -CA and -CAkey pointed at
 *  the intermediate's certificate and key (the commands name OUT/ca.crt and a ca.key that an
 *  external CA keeps to itself). The commands are plain words: any quoting would be a surprise. */
export function signListed(toSign: ToSign[], out: string, ca: ExternalCa): void {
  for (const t of toSign) {
    if (/["'\\$`]/.test(t.command)) throw new Error(`the signing command of ${t.name} has shell quoting, which this helper does not expect: ${t.command}`);
    const argv = t.command.split(/\s+/);
    const ix = (flag: string) => {
      const i = argv.indexOf(flag);
      if (i < 0) throw new Error(`the signing command of ${t.name} has no ${flag}: ${t.command}`);
      return i + 1;
    };
    if (argv[0] !== 'openssl' || argv[1] !== 'x509' || !argv.includes('-req')) throw new Error(`the signing command of ${t.name} is not openssl x509 -req: ${t.command}`);
    if (argv[ix('-in')] !== t.csr || argv[ix('-out')] !== t.crt) throw new Error(`the signing command of ${t.name} does not sign ${t.csr} into ${t.crt}: ${t.command}`);
    argv[ix('-CA')] = ca.intermediateCrt;
    argv[ix('-CAkey')] = ca.intermediateKey;
    run(argv, out);
  }
}
