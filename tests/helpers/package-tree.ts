/**
 * Helpers shared by the delivery tests (npm package, make, container): run a
 * real process, pack the real npm tarball, the state of every file in a folder.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, ROOT } from './cli.js';

export const repoRoot = ROOT;
export const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  scripts: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

export interface Result {
  argv: string[];
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The test runner's environment without what would leak into children (jest's NODE_OPTIONS, make's MAKEFLAGS). */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NODE_OPTIONS', 'MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKE_TERMOUT', 'MAKE_TERMERR', 'NO_COLOR', 'FORCE_COLOR']) delete env[k];
  for (const k of Object.keys(env)) if (k.startsWith('JEST_') || k.startsWith('npm_')) delete env[k];
  Object.assign(env, { LC_ALL: 'C', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' }, extra);
  return env;
}

/** Runs argv[0] with argv[1..] (no shell); never throws on a non-zero exit. */
export function run(argv: string[], opts: SpawnSyncOptions = {}): Result {
  const t0 = Date.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 90_000, env: childEnv(), ...opts });
  if (r.error) throw new Error(`cannot run ${argv.join(' ')}: ${r.error.message}`);
  return { argv, status: r.status, signal: r.signal, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), ms: Date.now() - t0 };
}

/** Like run(), but a non-zero exit throws with the command line and its output. */
export function mustRun(argv: string[], opts: SpawnSyncOptions = {}): Result {
  const r = run(argv, opts);
  if (r.status !== 0) throw new Error(explain(r));
  return r;
}

/** A failure message that shows what ran and what it said. */
export function explain(r: Result): string {
  return `${r.argv.join(' ')}\n  exit ${r.status ?? r.signal}\n  stdout: ${r.stdout.trim().slice(-3000)}\n  stderr: ${r.stderr.trim().slice(-3000)}`;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `kubepki-${prefix}-`));
}

/** Every file under dir (relative path, sorted). */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

export interface FileState { mode: number; uid: number; mtimeMs: number; sha256: string }

/** mode, owner, mtime and sha256 of every file under dir (snapshot() of pki.ts has the sha256 only). */
export function fileStates(dir: string): Record<string, FileState> {
  const snap: Record<string, FileState> = {};
  for (const f of listFiles(dir)) {
    const p = path.join(dir, f);
    const st = fs.statSync(p);
    snap[f] = { mode: st.mode & 0o7777, uid: st.uid, mtimeMs: st.mtimeMs, sha256: createHash('sha256').update(fs.readFileSync(p)).digest('hex') };
  }
  return snap;
}

/** The built CLI must exist: `npm test` builds it first (and so must whoever runs one file). */
export function requireBuiltCli(): string {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  return CLI;
}

export interface Packed { tarball: string; entries: string[] }

/**
 * `npm pack` of this repository into dest, exactly what `npm publish` would
 * ship. --ignore-scripts: dist/ is already built (the prepack rebuild would
 * race with the other test files that run dist/cli.js at the same time).
 */
export function packTarball(dest: string): Packed {
  requireBuiltCli();
  const r = mustRun(['npm', 'pack', '--ignore-scripts', '--json', '--pack-destination', dest], { cwd: repoRoot });
  const info = JSON.parse(r.stdout) as Array<{ filename: string }>;
  const tarball = path.join(dest, info[0]!.filename);
  const entries = mustRun(['tar', '-tzf', tarball]).stdout.split('\n').filter(Boolean).sort();
  return { tarball, entries };
}

/**
 * The runtime tree the Dockerfile builds: the packed package extracted into
 * <root>/opt/kubepki, the lockfile next to it, `npm ci --omit=dev`, and a
 * kubepki symlink in <root>/bin (the image's /usr/local/bin/kubepki).
 */
export function buildRuntimeTree(root: string, tarball: string): { appDir: string; binDir: string } {
  const appDir = path.join(root, 'opt', 'kubepki');
  const binDir = path.join(root, 'bin');
  fs.mkdirSync(appDir, { recursive: true });
  fs.mkdirSync(binDir, { recursive: true });
  mustRun(['tar', '-xzf', tarball, '-C', appDir, '--strip-components=1']);
  fs.copyFileSync(path.join(repoRoot, 'package-lock.json'), path.join(appDir, 'package-lock.json'));
  mustRun(['npm', 'ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: appDir, timeout: 120_000 });
  fs.chmodSync(path.join(appDir, 'dist', 'cli.js'), 0o755);
  fs.symlinkSync(path.join(appDir, 'dist', 'cli.js'), path.join(binDir, 'kubepki'));
  mustRun(['chmod', '-R', 'a+rX,go-w', root]);
  return { appDir, binDir };
}
