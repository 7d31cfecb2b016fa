// Hostile and broken input, each inflicted on a real folder: a clear error, exit 2 (spec) or 1
// (environment), and nothing lost (the sha256 of every existing file unchanged).
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, kubepki, type CliResult } from '../helpers/cli.js';
import { cleanupTmp, copyDir, tmpDir } from '../helpers/tmp.js';
import { FAKE_BIN, SPEC, basePki, changed, expectExit, fakeEnv, newCa, newKey, snapshot, verifyJson, writeSpec } from '../helpers/pki.js';

let spec: string;
let work: string;
let base: string;
let baseSnap: Record<string, string>;

beforeAll(() => {
  ({ work, spec, out: base, snap: baseSnap } = basePki(SPEC, 'hostile'));
  chmodSync(work, 0o755); // the unprivileged-user test reads the spec here
  chmodSync(spec, 0o644);
});
afterAll(() => cleanupTmp());

const MIN = 'master: { hostname: k8s-master, ip: 127.0.0.1 }\n';

/** Files outside .kubepki, for "nothing was made". */
const made = (out: string) => (existsSync(out) ? Object.keys(snapshot(out)) : []);

describe('specs with injection attempts: exit 2, every problem named by its path, nothing written', () => {
  test.each([
    ['a client name with ../', MIN + 'clients: [{ name: ../../etc/evil, cn: evil }]', 'clients[0].name: "../../etc/evil" is not a valid client name'],
    ['a node name with ../', MIN + 'nodes: [{ name: ../../root, ip: 10.0.0.2 }]', 'nodes[0].name: "../../root" is not a valid host name'],
    ['a node name with a newline', MIN + 'nodes: [{ name: "n1\\nDNS.9 = evil.com", ip: 10.0.0.2 }]', 'nodes[0].name: "n1\\nDNS.9 = evil.com" is not a valid host name'],
    ['a NUL in a CN', MIN + 'clients: [{ name: bot, cn: "bot\\u0000admin" }]', 'clients[0].cn: "bot\\u0000admin" contains a control character'],
    ['a newline in an O', MIN + 'clients: [{ name: bot, cn: bot, organizations: ["ops\\n/O=system:masters"] }]', 'clients[0].organizations[0]: "ops\\n/O=system:masters" contains a control character'],
    ['/O=system:masters in a CN', MIN + 'clients: [{ name: bot, cn: "bot/O=system:masters" }]', 'clients[0].cn: "bot/O=system:masters" looks like more subject fields'],
    ['/CN= in an O', MIN + 'clients: [{ name: bot, cn: bot, organizations: ["dev/CN=admin"] }]', 'clients[0].organizations[0]: "dev/CN=admin" looks like more subject fields'],
    ['/O= in the CA name', MIN + 'ca: { commonName: "k8s-master/O=system:masters" }', 'ca.commonName: "k8s-master/O=system:masters" looks like more subject fields'],
    ['/O= in the master host name', 'master: { hostname: "k8s-master/O=system:masters", ip: 127.0.0.1 }\n', 'master.hostname: "k8s-master/O=system:masters" is not a valid host name'],
    ['system:masters for an extra client', MIN + 'clients: [{ name: bot, cn: bot, organizations: [system:masters] }]', 'clients[0].organizations[0]: "system:masters" bypasses RBAC'],
    ['a comma list in one O', MIN + 'clients: [{ name: bot, cn: bot, organizations: ["dev,system:masters"] }]', 'clients[0].organizations[0]: "dev,system:masters" contains a comma'],
    ['a system:system: typo', MIN + 'clients: [{ name: bot, cn: "system:system:bot" }]', 'clients[0].cn: "system:system:bot" repeats the system: prefix'],
    ['a SAN that smuggles a config line', 'master: { hostname: k8s-master, ip: 127.0.0.1, extraSANs: ["lb.example.com\\nDNS.99 = evil.com"] }\n', 'master.extraSANs[0]: "lb.example.com\\nDNS.99 = evil.com" is neither an IP address nor a valid DNS name'],
    ['a SAN with a path', 'master: { hostname: k8s-master, ip: 127.0.0.1, extraSANs: ["../../etc/passwd"] }\n', 'master.extraSANs[0]: "../../etc/passwd" is neither'],
    ['install.dir with ..', MIN + 'install: { dir: /var/run/kubernetes/../../../etc }', 'install.dir: "/var/run/kubernetes/../../../etc" must not contain \'..\''],
    ['install.dir with shell', MIN + 'install: { dir: "/var/run/k8s; rm -rf /" }', 'install.dir: "/var/run/k8s; rm -rf /" may only contain'],
    ['an unknown key at the top', MIN + 'outDir: /etc\n', 'outDir: unknown key'],
    ['an unknown key in a node', MIN + 'nodes: [{ name: n1, ip: 10.0.0.2, cn: "system:masters" }]', 'nodes[0].cn: unknown key'],
    ['a JSON spec with a NUL in a node name', '{"master": {"hostname": "k8s-master", "ip": "127.0.0.1"}, "nodes": [{"name": "n1\\u0000", "ip": "10.0.0.2"}]}', 'nodes[0].name: "n1\\u0000" is not a valid host name'],
  ])('%s', (_what, text, message) => {
    const d = tmpDir('kubepki-inject-');
    const f = writeSpec(d, text, 'spec.yaml');
    const out = path.join(d, 'pki');
    const r = kubepki(['generate', '--out', out, '--spec', f]);
    expectExit(r, 2);
    expect(r.stderr).toMatch(/^kubepki: error: .*spec\.yaml: \d+ problems? in the spec$/m);
    expect(r.stderr).toContain(`  ${message}`);
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
  });

  test('plan, verify and renew refuse such a spec the same way (exit 2), and touch nothing', () => {
    const f = writeSpec(tmpDir('kubepki-inject-'), MIN + 'clients: [{ name: bot, cn: "bot/O=system:masters" }]\n', 'spec.yaml');
    const out = copyDir(base);
    for (const cmd of [['plan'], ['verify', '--out', out], ['renew', '--all', '--out', out]]) {
      const r = kubepki([...cmd, '--spec', f]);
      expectExit(r, 2);
      expect(r.stderr).toContain('  clients[0].cn: "bot/O=system:masters" looks like more subject fields');
    }
    expect(snapshot(out, true)).toEqual(snapshot(base, true));
  });

  test('every problem at once, each with its path', () => {
    const f = writeSpec(tmpDir('kubepki-inject-'), 'master: { hostname: "a b", ip: 1.2.3.999 }\nclients: [{ name: X, cn: "c/O=system:masters", organizations: [system:masters] }]\nbogus: 1\n', 'all.yaml');
    const r = kubepki(['plan', '--spec', f]);
    expectExit(r, 2);
    for (const p of ['master.hostname: ', 'master.ip: ', 'clients[0].name: ', 'clients[0].cn: ', 'clients[0].organizations[0]: ', 'bogus: unknown key']) expect(r.stderr).toContain(`  ${p}`);
  });
});

describe('--out that is not a folder kubepki may write: exit 1, nothing written anywhere', () => {
  test('a file', () => {
    const f = path.join(tmpDir('kubepki-out-'), 'pki');
    writeFileSync(f, 'not a folder\n');
    const r = kubepki(['generate', '--spec', spec, '--out', f]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/--out .*pki is a file, not a folder/);
    expect(readFileSync(f, 'utf8')).toBe('not a folder\n');
    expectExit(kubepki(['generate', '--spec', spec, '--out', path.join(f, 'sub')]), 1);
  });

  test('a symlink into somewhere else (and symlinks inside the folder)', () => {
    const d = tmpDir('kubepki-out-');
    const target = path.join(d, 'elsewhere');
    mkdirSync(target);
    symlinkSync(target, path.join(d, 'pki'));
    const r = kubepki(['generate', '--spec', spec, '--out', path.join(d, 'pki')]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/--out .*pki is a symlink to .*elsewhere/);
    expect(r.stderr).toMatch(/does not write through symlinks; pass the real folder/);
    expect(readdirSync(target)).toEqual([]);
    // inside: clients/ pointing elsewhere, or a key that is a symlink
    const out = copyDir(base);
    rmSync(path.join(out, 'clients'), { recursive: true });
    symlinkSync(target, path.join(out, 'clients'));
    const r2 = kubepki(['generate', '--spec', spec, '--out', out]);
    expectExit(r2, 1);
    expect(r2.stderr).toMatch(/symlink/);
    expect(readdirSync(target)).toEqual([]);
    const out3 = copyDir(base);
    const secret = path.join(d, 'secret');
    writeFileSync(secret, 'precious\n');
    rmSync(path.join(out3, 'server.key'));
    symlinkSync(secret, path.join(out3, 'server.key'));
    const r3 = kubepki(['generate', '--spec', spec, '--out', out3]);
    expectExit(r3, 1);
    expect(r3.stderr).toMatch(/server\.key in .* is a symlink; kubepki does not follow symlinks inside a PKI folder/);
    expect(readFileSync(secret, 'utf8')).toBe('precious\n');
    expect(kubepki(['verify', '--spec', spec, '--out', out3]).code).toBe(1);
  });

  test('unwritable by the user who runs kubepki (an unprivileged user via setpriv)', () => {
    const d = tmpDir('kubepki-out-');
    chmodSync(d, 0o755);
    const ro = path.join(d, 'ro');
    mkdirSync(ro, { mode: 0o755 }); // root's, not writable by nobody
    const asNobody = (args: string[]): CliResult => {
      const r = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, CLI, ...args], { cwd: '/', encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      if (r.error) throw new Error(`this test needs setpriv (util-linux): ${r.error.message}`);
      return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    };
    const r = asNobody(['generate', '--spec', spec, '--out', ro]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/--out .*ro is not writable by this user \(uid 65534\)/);
    expect(readdirSync(ro)).toEqual([]);
    const r2 = asNobody(['generate', '--spec', spec, '--out', path.join(ro, 'pki')]);
    expectExit(r2, 1);
    expect(r2.stderr).toMatch(/cannot create --out .*: permission denied/);
    // an existing PKI of root's: nobody may read the certificates but not the keys
    const pki = copyDir(base);
    chmodSync(pki, 0o755);
    const before = snapshot(pki, true);
    const r3 = asNobody(['generate', '--spec', spec, '--out', pki]);
    expectExit(r3, 1);
    expect(r3.stderr).toMatch(/^kubepki: error: /m);
    expect(r3.stderr).not.toMatch(/internal error/);
    expect(snapshot(pki, true)).toEqual(before);
    // a folder that is writable but whose .kubepki is not
    chownSync(pki, 65534, 65534);
    mkdirSync(path.join(pki, '.kubepki'), { recursive: true, mode: 0o700 });
    const r4 = asNobody(['generate', '--spec', spec, '--out', pki]);
    expectExit(r4, 1);
    expect(r4.stderr).toMatch(/kubepki: error: cannot create the lock .*\.kubepki\/lock: permission denied\n.*must be a folder this user can write/);
    expect(snapshot(pki)).toEqual(baseSnap);
  });

  test('OUT/.kubepki is a file: a clear error, not a crash', () => {
    const out = copyDir(base);
    rmSync(path.join(out, '.kubepki'), { recursive: true, force: true });
    writeFileSync(path.join(out, '.kubepki'), 'x\n');
    const r = kubepki(['generate', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/kubepki: error: cannot create .*\.kubepki: a file is in the way\n.*move that file away/);
    expect(snapshot(out)).toEqual({ ...baseSnap, '.kubepki': snapshot(out)['.kubepki'] });
  });
});

describe('a broken PKI folder: exit 1, nothing changed', () => {
  test('a tampered ca.crt (another CA with the same CN)', () => {
    const out = copyDir(base);
    const other = newCa(path.join(work, 'evil-ca'), 'k8s-master');
    writeFileSync(path.join(out, 'ca.crt'), readFileSync(other.crt));
    rmSync(path.join(out, 'clients/admin.crt')); // work for generate to do: it must still refuse
    const before = snapshot(out, true);
    const r = kubepki(['generate', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/the CA in .* does not fit the spec: ca\.crt does not match its private key/);
    expect(r.stderr).toMatch(/ca\.key and ca\.crt are not one key pair.*restore the CA files from a backup/);
    expect(snapshot(out, true)).toEqual(before);
    const r2 = kubepki(['renew', '--all', '--spec', spec, '--out', out]);
    expectExit(r2, 1);
    expect(snapshot(out, true)).toEqual(before);
  });

  test('a key replaced by another', () => {
    const out = copyDir(base);
    newKey(path.join(out, 'clients/admin.key'));
    const before = snapshot(out, true);
    const r = kubepki(['generate', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/clients\/admin\.key does not match clients\/admin\.crt in .*: one of them was replaced/);
    expect(r.stderr).toMatch(/restore the original, or run `kubepki renew admin --rekey`/);
    expect(snapshot(out, true)).toEqual(before);
    // the way out named in the message works
    expectExit(kubepki(['renew', 'admin', '--rekey', '--spec', spec, '--out', out]), 0);
    expectExit(kubepki(['verify', '--spec', spec, '--out', out]), 0);
  });

  test('a service-account key pair that is not one pair: neither half is overwritten on a guess', () => {
    const out = copyDir(base);
    newKey(path.join(out, 'sa.key'));
    const before = snapshot(out, true);
    const r = kubepki(['generate', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/sa\.pub in .* is not the public half of sa\.key: one of them was replaced\n.*move sa\.pub away to derive it again/);
    expect(snapshot(out, true)).toEqual(before);
    // the way out: sa.pub moved away is derived again from sa.key
    rmSync(path.join(out, 'sa.pub'));
    expectExit(kubepki(['generate', '--spec', spec, '--out', out]), 0);
    expectExit(kubepki(['verify', '--spec', spec, '--out', out]), 0);
  });

  test('a key that is not a key (garbage) is never overwritten', () => {
    const out = copyDir(base);
    writeFileSync(path.join(out, 'clients/kube-proxy.key'), 'garbage\n');
    const before = snapshot(out, true);
    const r = kubepki(['generate', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/clients\/kube-proxy\.key in .* is not a readable private key/);
    expect(snapshot(out, true)).toEqual(before);
  });
});

describe('openssl missing, too old, failing half way', () => {
  const specNode2 = () => writeSpec(work, SPEC + '  - { name: k8s-node-2, ip: 127.0.0.3 }\n', 'node2.yaml');

  test('missing: --openssl to nothing, or none on PATH: exit 1 before any file is written', () => {
    const d = tmpDir('kubepki-noossl-');
    const r = kubepki(['generate', '--spec', spec, '--out', path.join(d, 'a'), '--openssl', path.join(d, 'no-such-openssl')]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/kubepki: error: openssl not found: .*no-such-openssl\n\s+kubepki runs the real openssl binary\. Install it \(Debian\/Ubuntu: apt-get install openssl\)/);
    expect(made(path.join(d, 'a'))).toEqual([]);
    const emptyPath = path.join(d, 'empty-bin');
    mkdirSync(emptyPath);
    const r2 = kubepki(['generate', '--spec', spec, '--out', path.join(d, 'b')], { env: { PATH: emptyPath, KUBEPKI_OPENSSL: '' } });
    expectExit(r2, 1);
    expect(r2.stderr).toMatch(/openssl not found: openssl/);
    expect(made(path.join(d, 'b'))).toEqual([]);
    // a complete PKI needs no openssl at all
    const out = copyDir(base);
    expectExit(kubepki(['generate', '--spec', spec, '--out', out], { env: { PATH: emptyPath, KUBEPKI_OPENSSL: '' } }), 0);
    // one with work to do is left as it was
    const r3 = kubepki(['generate', '--spec', specNode2(), '--out', out], { env: { PATH: emptyPath, KUBEPKI_OPENSSL: '' } });
    expectExit(r3, 1);
    expect(snapshot(out)).toEqual(baseSnap);
  });

  test('not executable, or killed by a signal: exit 1 saying which, nothing written', () => {
    const d = tmpDir('kubepki-badossl-');
    const noexec = path.join(d, 'openssl-noexec');
    writeFileSync(noexec, '#!/bin/sh\nexec openssl "$@"\n', { mode: 0o644 });
    const r = kubepki(['generate', '--spec', spec, '--out', path.join(d, 'a'), '--openssl', noexec]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/kubepki: error: openssl cannot be run: .*openssl-noexec: permission denied\n\s+make it executable \(chmod \+x\)/);
    expect(made(path.join(d, 'a'))).toEqual([]);
    const killed = path.join(d, 'openssl-killed');
    writeFileSync(killed, '#!/bin/sh\nkill -9 $$\n', { mode: 0o755 });
    const r2 = kubepki(['generate', '--spec', spec, '--out', path.join(d, 'b'), '--openssl', killed]);
    expectExit(r2, 1);
    expect(r2.stderr).toMatch(/kubepki: error: `.*openssl-killed version` failed \(killed by SIGKILL\)/);
    expect(made(path.join(d, 'b'))).toEqual([]);
  });

  test('too old (a fake "OpenSSL 1.1.1w" first on PATH): exit 1 naming the version', () => {
    const d = tmpDir('kubepki-oldossl-');
    const r = kubepki(['generate', '--spec', spec, '--out', path.join(d, 'pki')], { env: { ...fakeEnv('old'), KUBEPKI_OPENSSL: '', PATH: `${FAKE_BIN}:${process.env.PATH}` } });
    expectExit(r, 1);
    expect(r.stderr).toMatch(/kubepki: error: OpenSSL 1\.1\.1w is too old: kubepki needs OpenSSL 3\.0 or newer/);
    expect(made(path.join(d, 'pki'))).toEqual([]);
  });

  test("LibreSSL (macOS's /usr/bin/openssl): exit 1 with the way out, before anything is written", () => {
    const d = tmpDir('kubepki-libressl-');
    const out = path.join(d, 'pki');
    // the fake says LibreSSL 3.3.6 to `version` and runs every other command for real: a step
    // that ran and was kept would leave its file
    const r = kubepki(['generate', '--spec', spec, '--out', out], { env: fakeEnv('libressl') });
    expectExit(r, 1);
    expect(r.stderr).toMatch(/kubepki: error: .*fixtures\/bin\/openssl is LibreSSL 3\.3\.6, not OpenSSL: kubepki needs OpenSSL 3\.0 or newer\n/);
    expect(r.stderr).toContain('on macOS: brew install openssl@3, then pass --openssl "$(brew --prefix openssl@3)/bin/openssl"');
    expect(r.stdout).not.toMatch(/\.key: RSA/);
    // not one file anywhere under --out (only the empty state folder)
    const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    expect(existsSync(out) ? files(out) : []).toEqual([]);
  });

  test('failing half way on an existing PKI: exit 1 with the step, its command and openssl\'s error; nothing lost', () => {
    const out = copyDir(base);
    // node-2's request fails, after its key was made
    const r = kubepki(['generate', '--spec', specNode2(), '--out', out, '--jobs', '1'], { env: fakeEnv('fail', { match: 'req -new -key clients/kubelet-k8s-node-2.key *' }) });
    expectExit(r, 1);
    expect(r.stderr).toMatch(/kubepki: error: step kubelet-k8s-node-2:csr failed: openssl exited with code 1/);
    expect(r.stderr).toContain('command: openssl req -new -key clients/kubelet-k8s-node-2.key -subj "/CN=system:node:k8s-node-2/O=system:nodes" -out clients/kubelet-k8s-node-2.csr');
    expect(r.stderr).toContain('openssl: fake openssl: fails on purpose: req -new -key clients/kubelet-k8s-node-2.key ');
    const after = snapshot(out);
    for (const [f, h] of Object.entries(baseSnap)) expect([f, after[f]]).toEqual([f, h]);
    // only the checked key of the step that succeeded was added
    expect(Object.keys(after).filter((f) => !(f in baseSnap))).toEqual(['clients/kubelet-k8s-node-2.key']);
    // no staging folder, no backup, no lock left behind; the spec the run was started with is remembered
    expect(readdirSync(path.join(out, '.kubepki'))).toEqual(['spec.json']);
    // with a working openssl the next run completes it, keeping that key
    expectExit(kubepki(['generate', '--spec', specNode2(), '--out', out]), 0);
    expect(snapshot(out)['clients/kubelet-k8s-node-2.key']).toBe(after['clients/kubelet-k8s-node-2.key']);
    expectExit(kubepki(['verify', '--spec', specNode2(), '--out', out]), 0);
  });

  test('exit 0 but a torn (half-written) output: the check refuses it and nothing is promoted', () => {
    const out = copyDir(base);
    // node-2's key is made, then openssl "succeeds" at its request and the CSR is cut in half
    const r = kubepki(['generate', '--spec', specNode2(), '--out', out, '--jobs', '1'], { env: fakeEnv('truncate', { match: 'req -new -key clients/kubelet-k8s-node-2.key *' }) });
    expectExit(r, 1);
    expect(r.stderr).toMatch(/step kubelet-k8s-node-2:csr wrote a file that fails its check: clients\/kubelet-k8s-node-2\.csr is not a readable certificate request/);
    expect(changed(baseSnap, snapshot(out))).toEqual(['clients/kubelet-k8s-node-2.key']);
    expectExit(kubepki(['generate', '--spec', specNode2(), '--out', out]), 0);
    expectExit(kubepki(['verify', '--spec', specNode2(), '--out', out]), 0);
  });
});

describe('a full disk', () => {
  test('a small tmpfs: exit 1 "no space left on the device", nothing half-written; with room the next run completes', () => {
    const d = tmpDir('kubepki-full-');
    const mnt = path.join(d, 'mnt');
    mkdirSync(mnt);
    // needs CAP_SYS_ADMIN (tests run as root); a sandbox that forbids it fails this test loudly
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=40k,mode=0755', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`cannot mount a tmpfs to fill (${m.stderr.trim()}); the fake-openssl ENOSPC test below still covers the message`);
    try {
      const out = path.join(mnt, 'pki');
      const r = kubepki(['generate', '--spec', spec, '--out', out, '--jobs', '1']);
      expectExit(r, 1);
      expect(r.stderr).toMatch(/kubepki: error: (no space left on the device \(\d+ KiB free where .*\): step \S+|cannot write \S+: no space left on the device)/);
      expect(r.stderr).not.toMatch(/internal error/);
      // everything that made it is whole and checked
      const { report } = verifyJson(out, ['--spec', spec]);
      const onExisting = report.problems.filter((p) => existsSync(path.join(out, p.file.replace(/ \(embedded certificate\)$/, ''))));
      expect(onExisting.filter((p) => p.code !== 'flags-path')).toEqual([]);
      const left = snapshot(out);
      expect(Object.keys(left).length).toBeGreaterThan(0);
      spawnSync('mount', ['-o', 'remount,size=4m', mnt]);
      expectExit(kubepki(['generate', '--spec', spec, '--out', out]), 0);
      const after = snapshot(out);
      for (const [f, h] of Object.entries(left)) if (f !== 'ca.srl') expect([f, after[f]]).toEqual([f, h]);
      expectExit(kubepki(['verify', '--spec', spec, '--out', out]), 0);
    } finally {
      spawnSync('umount', ['-l', mnt]);
    }
  });

  test('openssl reporting ENOSPC (a fake): exit 1 with openssl\'s "No space left on device", nothing promoted', () => {
    const out = copyDir(base);
    // node-3's key, the first step with work to do
    const r = kubepki(['generate', '--spec', writeSpec(work, SPEC + '  - { name: k8s-node-3, ip: 127.0.0.4 }\n', 'node3.yaml'), '--out', out, '--jobs', '1'], { env: fakeEnv('enospc', { match: 'genrsa -out clients/kubelet-k8s-node-3.key *' }) });
    expectExit(r, 1);
    expect(r.stderr).toMatch(/step kubelet-k8s-node-3:key failed: openssl exited with code 1/);
    expect(r.stderr).toMatch(/openssl: .*No space left on device/);
    expect(snapshot(out)).toEqual(baseSnap);
  });
});

