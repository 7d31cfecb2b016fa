/**
 * The built command: dist/cli.js runs the program bundle with the V8 code cache that
 * scripts/build.mjs trained for it (src/boot.ts). The cache may only ever save time: a refused or
 * missing one changes nothing kubepki does, and the training run leaves no key behind.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Script } from 'node:vm';
import { CLI, ROOT } from '../helpers/cli.js';
import { childEnv, listFiles, mustRun, requireBuiltCli, run, tempDir } from '../helpers/package-tree.js';
import { REAL_OPENSSL } from '../helpers/pki.js';

/** The program's and the cache's file names, as dist/cli.js names them. */
function named(cli: string): { program: string; cache: string } {
  const text = fs.readFileSync(cli, 'utf8');
  const program = /"\.\/(kubepki-[0-9a-f]{16}\.js)"/.exec(text)?.[1];
  const cache = /"\.\/(kubepki-[0-9a-f]{16}\.cache)"/.exec(text)?.[1];
  if (!program || !cache) throw new Error(`${cli} names no program or no cache`);
  return { program, cache };
}

/** A copy of the built command (dist/ and package.json, which holds the version) in a temporary folder. */
function copyOfDist(): string {
  const dir = tempDir('cache');
  fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  return dir;
}

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

describe('dist/cli.js and its code cache', () => {
  test('names a program whose file name carries its sha256, and a cache of it that this node accepts', () => {
    requireBuiltCli();
    const { program, cache } = named(CLI);
    const source = fs.readFileSync(path.join(ROOT, 'dist', program));
    expect(program).toBe(`kubepki-${createHash('sha256').update(source).digest('hex').slice(0, 16)}.js`);
    expect(cache).toBe(program.replace(/\.js$/, '.cache'));
    const cachedData = fs.readFileSync(path.join(ROOT, 'dist', cache));
    const script = new Script(source.toString('utf8'), { filename: path.join(ROOT, 'dist', program), cachedData });
    expect(script.cachedDataRejected).toBe(false);
  });

  test('a cache that V8 refuses (garbage, cut short, empty) or none at all changes nothing kubepki prints', () => {
    requireBuiltCli();
    const dir = copyOfDist();
    temps.push(dir);
    const cli = path.join(dir, 'dist', 'cli.js');
    const cacheFile = path.join(dir, 'dist', named(cli).cache);
    const outputs = () => [run([cli, '--version'], { env: childEnv() }), run([cli, 'plan'], { env: childEnv() }), run([cli, 'plan', '--spec', '/nonexistent.yaml'], { env: childEnv() })].map((r) => ({ status: r.status, stdout: r.stdout, stderr: r.stderr }));
    const withCache = outputs();
    expect(withCache[0]).toEqual({ status: 0, stdout: expect.stringMatching(/^kubepki \d+\.\d+\.\d+\n$/), stderr: '' });
    expect(withCache[1]!.stdout).toContain('openssl genrsa -out ca.key 2048');
    expect(withCache[2]!.status).toBe(2);

    const good = fs.readFileSync(cacheFile);
    const garbage = Buffer.from(good);
    for (let i = 0; i < garbage.length; i += 97) garbage[i] ^= 0xff;
    for (const bytes of [garbage, good.subarray(0, 100), Buffer.alloc(0)]) {
      fs.writeFileSync(cacheFile, bytes);
      expect(outputs()).toEqual(withCache);
    }
    fs.rmSync(cacheFile);
    expect(outputs()).toEqual(withCache);
  });
});

describe('the build (scripts/build.mjs)', () => {
  /** A tree with what the build reads (src, the bundler script, package.json, node_modules). */
  function buildTree(): string {
    const dir = tempDir('build');
    temps.push(dir);
    fs.cpSync(path.join(ROOT, 'src'), path.join(dir, 'src'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'scripts'));
    fs.copyFileSync(path.join(ROOT, 'scripts', 'build.mjs'), path.join(dir, 'scripts', 'build.mjs'));
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    fs.mkdirSync(path.join(dir, 'tmp'));
    return dir;
  }

  test('trains the cache with a real openssl and removes the training run\'s keys', () => {
    const dir = buildTree();
    const r = mustRun([process.execPath, 'scripts/build.mjs'], { cwd: dir, env: childEnv({ KUBEPKI_OPENSSL: REAL_OPENSSL, TMPDIR: path.join(dir, 'tmp') }) });
    expect(r.stderr).toBe('');
    const { program, cache } = named(path.join(dir, 'dist', 'cli.js'));
    expect(fs.readdirSync(path.join(dir, 'dist')).sort()).toEqual([cache, program, 'cli.js', 'package.json'].sort());
    // node loads cli.js as the CommonJS script it is, inside a package whose type is module
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'dist', 'package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
    expect(fs.readdirSync(path.join(dir, 'tmp'))).toEqual([]);
    const script = new Script(fs.readFileSync(path.join(dir, 'dist', program), 'utf8'), { cachedData: fs.readFileSync(path.join(dir, 'dist', cache)) });
    expect(script.cachedDataRejected).toBe(false);
  });

  test('without an openssl writes no cache, says so, and the command still runs', () => {
    const dir = buildTree();
    const r = run([process.execPath, 'scripts/build.mjs'], { cwd: dir, env: childEnv({ KUBEPKI_OPENSSL: path.join(dir, 'no-openssl'), TMPDIR: path.join(dir, 'tmp') }) });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^build: no code cache \(its training run failed: kubepki: error: openssl not found: .*no-openssl\); kubepki compiles its code at every start\n$/);
    const { program } = named(path.join(dir, 'dist', 'cli.js'));
    expect(fs.readdirSync(path.join(dir, 'dist')).sort()).toEqual([program, 'cli.js', 'package.json'].sort());
    expect(listFiles(path.join(dir, 'tmp'))).toEqual([]);
    const v = run([path.join(dir, 'dist', 'cli.js'), '--version'], { env: childEnv() });
    expect(v.status).toBe(0);
    expect(v.stdout).toBe(run([CLI, '--version'], { env: childEnv() }).stdout);
  });
});
