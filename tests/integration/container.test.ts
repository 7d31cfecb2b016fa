/**
 * The Docker bootstrap container, as far as it can be exercised without a
 * container engine (scripts/image-test.sh builds and runs the real image):
 *
 * - the Dockerfile's own invariants, parsed from the file;
 * - the .dockerignore, evaluated with Docker's matching rules;
 * - the container-equivalent run: the runtime tree the Dockerfile builds
 *   (npm pack, extracted, npm ci --omit=dev with the lockfile), run through
 *   the Dockerfile's own ENTRYPOINT + CMD and ENV, cwd = its WORKDIR, as an
 *   unprivileged uid (setpriv), against a volume-style folder owned by that uid.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildRuntimeTree, explain, listFiles, packTarball, pkg, repoRoot, run, fileStates, tempDir, type Result } from '../helpers/package-tree.js';

// ---------------------------------------------------------------- Dockerfile

interface Instruction { op: string; args: string; stage: number; line: number }

/** Instructions of a Dockerfile: continuation lines joined, comments dropped, numbered by stage. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (buf === '' && (line === '' || line.startsWith('#'))) return;
    if (buf !== '' && line.startsWith('#')) return; // comment inside a continuation
    if (buf === '') start = i + 1;
    if (line.endsWith('\\')) {
      buf += line.slice(0, -1) + ' ';
      return;
    }
    buf += line;
    const m = /^(\S+)\s*(.*)$/s.exec(buf)!;
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage += 1;
    out.push({ op, args: m[2]!.trim(), stage, line: start });
    buf = '';
  });
  return out;
}

/** Exec-form (JSON array) arguments; undefined for shell form. */
function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const v = JSON.parse(args) as unknown;
  return Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined;
}

/** --flags, sources and destination of a COPY/ADD. */
function copyArgs(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (let m = /^--([\w-]+)(?:=(\S+))?\s+/.exec(rest); m; m = /^--([\w-]+)(?:=(\S+))?\s+/.exec(rest)) {
    flags[m[1]!] = m[2] ?? 'true';
    rest = rest.slice(m[0].length);
  }
  const parts = execForm(rest) ?? rest.split(/\s+/).filter(Boolean);
  return { flags, sources: parts.slice(0, -1), dest: parts[parts.length - 1]! };
}

const dockerfile = parseDockerfile(fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'));
const lastStage = Math.max(...dockerfile.map((i) => i.stage));
const finalStage = dockerfile.filter((i) => i.stage === lastStage);
const last = (op: string) => finalStage.filter((i) => i.op === op).at(-1);
const stageNames = dockerfile
  .filter((i) => i.op === 'FROM')
  .map((i) => /\s+AS\s+(\S+)\s*$/i.exec(i.args)?.[1])
  .filter((n): n is string => Boolean(n));

const ENTRYPOINT = execForm(last('ENTRYPOINT')?.args ?? '') ?? [];
const CMD = execForm(last('CMD')?.args ?? '') ?? [];
const WORKDIR = last('WORKDIR')?.args ?? '/';
/** ENV of the final stage (KEY=VALUE pairs, optionally quoted). */
const ENV: Record<string, string> = {};
for (const i of finalStage.filter((x) => x.op === 'ENV')) {
  for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) ENV[m[1]!] = m[2]!.replace(/^"|"$/g, '');
}

describe('Dockerfile invariants', () => {
  test('is multi-stage, and every base image is pinned by tag (no :latest, no untagged FROM)', () => {
    const froms = dockerfile.filter((i) => i.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) {
      const image = f.args.split(/\s+/).filter((w) => !w.startsWith('--'))[0]!;
      if (stageNames.includes(image)) continue;
      const name = image.split('/').at(-1)!;
      const pinned = /@sha256:[0-9a-f]{64}$/.test(image) || (/:[\w][\w.-]*$/.test(name) && !/:latest$/.test(name));
      expect([f.line, image, pinned]).toEqual([f.line, image, true]);
    }
  });

  test('the runtime stage is Node 20 on Debian bookworm slim', () => {
    const image = dockerfile.find((i) => i.op === 'FROM' && i.stage === lastStage)!.args.split(/\s+/)[0]!;
    expect(image).toMatch(/^(docker\.io\/(library\/)?)?node:20(\.\d+){0,2}-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
  });

  test('the runtime stage installs Debian\'s openssl and runs as a non-root user', () => {
    expect(finalStage.some((i) => i.op === 'RUN' && /apt-get install\b[^&|;]*\bopenssl\b/.test(i.args))).toBe(true);
    const user = last('USER')?.args.split(':')[0]?.trim();
    expect(user).toBeDefined();
    expect(['', 'root', '0']).not.toContain(user);
  });

  test('ENTRYPOINT runs kubepki with umask 077 and passes arguments through; CMD and VOLUME as documented', () => {
    if (ENTRYPOINT.length === 1) expect(ENTRYPOINT).toEqual(['kubepki']);
    else {
      expect(ENTRYPOINT.slice(0, 2)).toEqual(['/bin/sh', '-c']);
      expect(ENTRYPOINT[2]).toMatch(/\bumask 0?077\b/);
      expect(ENTRYPOINT[2]).toMatch(/\bexec kubepki "\$@"/);
    }
    expect(CMD).toEqual(['generate', '--out', '/pki']);
    const volume = last('VOLUME')?.args ?? '';
    expect(execForm(volume) ?? volume.split(/\s+/)).toContain('/pki');
  });

  test('nothing secret and no build tool is copied in: COPY/ADD name their sources, none a key, spec, pki/ or fixtures/', () => {
    const bad = /(^|\/)(pki|fixtures|tests|node_modules|dist|\.git)(\/|$)|\.(key|pem|csr|crt|srl|ya?ml|kubeconfig|env)$|^\.\/?$|\*/;
    for (const i of dockerfile.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
      const { flags, sources } = copyArgs(i.args);
      expect([i.line, i.op]).toEqual([i.line, 'COPY']); // no ADD: no URLs, no auto-extracted archives
      if (flags.from) continue; // from an earlier stage, checked below
      expect([i.line, sources.filter((s) => bad.test(s))]).toEqual([i.line, []]);
      // the runtime stage takes everything from the build stage, nothing from the context
      expect([i.line, i.stage]).not.toEqual([i.line, lastStage]);
    }
    // production dependencies only, from the lockfile; the final stage builds nothing
    expect(dockerfile.some((i) => i.op === 'RUN' && /npm ci\b[^&|;]*--omit=dev/.test(i.args))).toBe(true);
    const finalRuns = finalStage.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    expect(finalRuns).not.toMatch(/\bnpm (ci|install|i|run)\b|\btsc\b|\btypescript\b/);
    expect(finalStage.filter((i) => i.op === 'ARG' || i.op === 'ENV').map((i) => i.args).join(' ')).not.toMatch(/KEY|SECRET|TOKEN|PASSWORD/i);
  });
});

// ---------------------------------------------------------------- .dockerignore

/** Docker's .dockerignore semantics (moby/patternmatcher): last matching rule wins; a rule matching a parent folder matches its files. */
function dockerIgnored(patterns: string[], file: string): boolean {
  const toRegex = (p: string) =>
    new RegExp(
      '^' +
        p
          .split(/(\*\*\/|\/\*\*$|\*\*|\*|\?)/)
          .map((t) =>
            t === '**/' ? '(.*/)?' : t === '/**' ? '(/.*)?' : t === '**' ? '.*' : t === '*' ? '[^/]*' : t === '?' ? '[^/]' : t.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
          )
          .join('') +
        '$',
    );
  const parents = file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const p = path.posix.normalize((negate ? raw.slice(1) : raw).trim()).replace(/^\/+|\/+$/g, '');
    if (parents.some((f) => toRegex(p).test(f))) ignored = !negate;
  }
  return ignored;
}

describe('.dockerignore', () => {
  const patterns = fs
    .readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  test('keeps node_modules, pki, .git, keys, fixtures, tests and dist out of the build context', () => {
    const mustIgnore = [
      'node_modules/zod/package.json', 'pki/ca.key', 'pki/server.crt', '.git/config', 'ca.key', 'fixtures/keys/ca.key',
      'src/spec/test.key', 'some/deep/folder/server.key', 'clients/admin.pem', 'tests/unit/x.test.ts', 'dist/cli.js',
      'cluster.yaml', 'kubepki-0.1.0.tgz', 'src/node_modules/x/index.js', 'secrets/pki/ca.crt',
    ];
    expect(mustIgnore.filter((f) => !dockerIgnored(patterns, f))).toEqual([]);
  });

  test('admits exactly what the Dockerfile copies from the context', () => {
    const sources = dockerfile
      .filter((i) => i.op === 'COPY' && !copyArgs(i.args).flags.from)
      .flatMap((i) => copyArgs(i.args).sources)
      .flatMap((s) => (fs.statSync(path.join(repoRoot, s)).isDirectory() ? listFiles(path.join(repoRoot, s)).map((f) => path.posix.join(s, f)) : [s]));
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.build.json']));
    expect(sources.filter((s) => dockerIgnored(patterns, s))).toEqual([]);
  });

  test('the build stage gets every file `npm run build` names (the bundler script, the tsconfigs)', () => {
    const build: string = pkg.scripts.build;
    const named = [...build.matchAll(/(?:^|\s)(?:-p\s+)?((?:scripts\/)?[\w.-]+\.(?:mjs|js|json))(?=\s|$)/g)].map((m) => m[1]);
    expect(named).toEqual(expect.arrayContaining(['tsconfig.build.json', 'scripts/build.mjs']));
    const copied = dockerfile
      .filter((i) => i.op === 'COPY' && !copyArgs(i.args).flags.from)
      .flatMap((i) => {
        const { sources, dest } = copyArgs(i.args);
        return sources.map((src) => (dest.endsWith('/') && dest !== './' ? path.posix.join(dest.replace(/^\.\//, ''), path.posix.basename(src)) : src));
      });
    expect(named.filter((f) => !copied.includes(f) || dockerIgnored(patterns, f))).toEqual([]);
  });
});

// ---------------------------------------------------------------- container-equivalent run

const UID = 65534; // nobody: an unprivileged uid, like the image's uid 1000
let tmp: string;
let binDir: string;
let appDir: string;

/**
 * `docker run [--user uid:uid] -v <mounts> IMAGE [args]`, without the engine:
 * the Dockerfile's ENTRYPOINT + (args or CMD), its ENV, cwd = WORKDIR, as uid,
 * with container paths (/pki, /cluster.yaml) mapped to host folders.
 */
function containerRun(opts: { uid?: number; mounts: Record<string, string>; args?: string[]; path?: string }): Result {
  const uid = opts.uid ?? UID;
  const map = (a: string) => {
    for (const [inside, host] of Object.entries(opts.mounts)) {
      if (a === inside) return host;
      if (a.startsWith(inside + '/')) return host + a.slice(inside.length);
    }
    return a;
  };
  const argv = [...ENTRYPOINT, ...(opts.args ?? CMD)].map(map);
  const PATH = [opts.path ?? binDir, path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
  return run(['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', ...argv], {
    cwd: WORKDIR,
    env: { ...ENV, PATH, HOME: '/nonexistent', LC_ALL: 'C' },
  });
}

/** A folder like a bind-mounted volume: owned by uid, 0700. */
function volume(name: string, uid = UID): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(d, { mode: 0o700 });
  fs.chownSync(d, uid, uid);
  return d;
}

function expectKeysPrivate(dir: string, uid: number): void {
  const snap = fileStates(dir);
  const files = Object.keys(snap);
  const keys = files.filter((f) => f.endsWith('.key'));
  expect(keys).toEqual(expect.arrayContaining(['ca.key', 'server.key']));
  expect(keys.filter((f) => snap[f]!.mode !== 0o600)).toEqual([]);
  expect(files.filter((f) => snap[f]!.uid !== uid)).toEqual([]);
  expect(files.filter((f) => (snap[f]!.mode & 0o022) !== 0)).toEqual([]); // nothing group/other-writable
  for (const f of files.filter((x) => x.endsWith('.kubeconfig'))) expect([f, snap[f]!.mode & 0o077]).toEqual([f, 0]);
}

function ok(r: Result): Result {
  expect(r.status === 0 ? 0 : explain(r)).toBe(0);
  return r;
}

describe('container-equivalent run (runtime tree as the Dockerfile builds it, unprivileged uid, umask 077)', () => {
  beforeAll(() => {
    tmp = tempDir('container');
    fs.chmodSync(tmp, 0o755); // the unprivileged uid must reach the runtime tree
    const packed = packTarball(tmp);
    ({ appDir, binDir } = buildRuntimeTree(path.join(tmp, 'root'), packed.tarball));
    fs.chmodSync(path.join(tmp, 'root'), 0o755);
  }, 150_000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the runtime tree holds the package and production dependencies only', () => {
    const top = fs.readdirSync(appDir).sort();
    expect(top).toEqual(expect.arrayContaining(['dist', 'node_modules', 'package.json']));
    expect(top.filter((f) => /^(src|tests|fixtures|scripts|coverage|tsconfig.*)$/.test(f))).toEqual([]);
    const nm = fs.readdirSync(path.join(appDir, 'node_modules'));
    expect(nm.filter((d) => ['typescript', 'jest', 'ts-jest', '@types', '@jest'].includes(d))).toEqual([]);
  });

  test('the ENTRYPOINT sets umask 077 and passes every argument through verbatim', () => {
    const fake = path.join(tmp, 'fakebin');
    fs.mkdirSync(fake, { mode: 0o755 });
    fs.writeFileSync(path.join(fake, 'kubepki'), '#!/bin/sh\numask\nprintf "<%s>\\n" "$@"\n', { mode: 0o755 });
    const r = ok(containerRun({ mounts: {}, path: fake, args: ['generate', '--spec', '/a b.yaml', ''] }));
    expect(r.stdout.split('\n')).toEqual(['0077', '<generate>', '<--spec>', '</a b.yaml>', '<>', '']);
  });

  test(`default CMD (generate --out /pki) as uid ${UID} writes keys 0600 owned by that uid`, () => {
    const vol = volume('pki');
    const r = ok(containerRun({ mounts: { '/pki': vol } }));
    expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
    expectKeysPrivate(vol, UID);
    expect(fs.readdirSync(vol)).toEqual(expect.arrayContaining(['ca.crt', 'server.crt', 'manifest.json']));
  });

  test('verify --out /pki exits 0, and a second default run changes no file', () => {
    const vol = path.join(tmp, 'pki');
    ok(containerRun({ mounts: { '/pki': vol }, args: ['verify', '--out', '/pki'] }));
    const before = fileStates(vol);
    ok(containerRun({ mounts: { '/pki': vol } }));
    expect(fileStates(vol)).toEqual(before);
  });

  test('the documented command: --user 4242, --spec from a read-only root-owned file, --out /pki', () => {
    const vol = volume('pki-user', 4242);
    const specDir = path.join(tmp, 'spec');
    fs.mkdirSync(specDir, { mode: 0o755 });
    const spec = path.join(specDir, 'cluster.yaml');
    fs.writeFileSync(spec, 'master:\n  hostname: k8s-master\n  ip: 10.20.30.40\n', { mode: 0o444 });
    const mounts = { '/pki': vol, '/cluster.yaml': spec };
    ok(containerRun({ uid: 4242, mounts, args: ['generate', '--spec', '/cluster.yaml', '--out', '/pki'] }));
    expectKeysPrivate(vol, 4242);
    const text = run(['openssl', 'x509', '-in', path.join(vol, 'server.crt'), '-noout', '-text']).stdout;
    expect(text).toContain('IP Address:10.20.30.40');
    ok(containerRun({ uid: 4242, mounts, args: ['verify', '--spec', '/cluster.yaml', '--out', '/pki'] }));
  });

  test('a volume the container user cannot write fails with a non-zero exit and writes nothing', () => {
    const vol = volume('pki-root', 0);
    fs.chmodSync(vol, 0o755);
    const r = containerRun({ mounts: { '/pki': vol } });
    expect(r.status).not.toBe(0);
    expect(r.status).not.toBeNull();
    expect(listFiles(vol)).toEqual([]);
  });
});
