// A real Kubernetes control plane for tests: the binaries built by scripts/control-plane/build.sh,
// a network namespace of the test's own (the cluster's addresses on a dummy interface in it, so
// nothing a component or kubectl sends can leave it), and processes that are bounded in time and
// stopped by pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './cli.js';

const VERSIONS_FILE = path.join(ROOT, 'scripts/control-plane/versions');

/** scripts/control-plane/versions: "default X.Y.Z", "etcd A.B.C", "k8s X.Y.Z" lines. */
export function controlPlaneVersions(): { default: string; etcd: string; k8s: string[] } {
  const rows = readFileSync(VERSIONS_FILE, 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((r) => r.length === 2);
  const one = (k: string) => {
    const r = rows.find((x) => x[0] === k);
    if (!r) throw new Error(`${VERSIONS_FILE} has no "${k}" line`);
    return r[1];
  };
  return { default: one('default'), etcd: one('etcd'), k8s: rows.filter((r) => r[0] === 'k8s').map((r) => r[1]) };
}

const CACHE = process.env.KUBEPKI_CACHE ?? path.join(os.homedir(), '.cache/kubepki');

export interface ControlPlaneBinaries {
  version: string;
  minor: string;
  apiserver: string;
  controllerManager: string;
  scheduler: string;
  kubelet: string;
  kubeProxy: string;
  etcd: string;
}

/** The built binaries of one version (KUBEPKI_CP_VERSION, else the versions file's default); missing ones fail. */
export function controlPlaneBinaries(version = process.env.KUBEPKI_CP_VERSION ?? controlPlaneVersions().default): ControlPlaneBinaries {
  const v = controlPlaneVersions();
  const full = /^\d+\.\d+$/.test(version) ? v.k8s.filter((x) => x.startsWith(`${version}.`)).pop() ?? `${version}.0` : version;
  const k8s = path.join(CACHE, 'k8s', full);
  const etcd = path.join(CACHE, 'etcd', v.etcd);
  const bins: ControlPlaneBinaries = {
    version: full,
    minor: full.split('.').slice(0, 2).join('.'),
    apiserver: path.join(k8s, 'kube-apiserver'),
    controllerManager: path.join(k8s, 'kube-controller-manager'),
    scheduler: path.join(k8s, 'kube-scheduler'),
    kubelet: path.join(k8s, 'kubelet'),
    kubeProxy: path.join(k8s, 'kube-proxy'),
    etcd: path.join(etcd, 'etcd'),
  };
  const missing = [bins.apiserver, bins.controllerManager, bins.scheduler, bins.kubelet, bins.kubeProxy, bins.etcd].filter((p) => !existsSync(p));
  const stamps = [path.join(k8s, '.built'), path.join(k8s, '.built-node'), path.join(etcd, '.built')].filter((p) => !existsSync(p));
  if (missing.length || stamps.length) {
    throw new Error(`the control plane of Kubernetes ${full} is not built (missing: ${[...missing, ...stamps].join(', ')}): run scripts/control-plane/build.sh ${full}`);
  }
  return bins;
}

// What a test file left running when its process ends anyway (a jest timeout, an exception in
// afterAll): killed by pid, namespaces deleted, so that nothing outlives the test.
const liveProcs = new Set<ChildProcess>();
const liveNamespaces = new Set<string>();
process.on('exit', () => {
  for (const c of liveProcs) {
    try {
      if (c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const n of liveNamespaces) spawnSync('ip', ['netns', 'del', n], { timeout: 10_000 });
});

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A network namespace with loopback up and the given addresses on a dummy interface. */
export class NetNs {
  readonly name = `kubepki-cp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private created = false;
  private hostsFile: string | undefined;

  /** Names resolve by this file in every process run or started here: `ip netns exec` gives each
   *  process a mount namespace of its own, where the file is bind-mounted over /etc/hosts, so the
   *  machine's /etc/hosts is neither written nor seen to change. */
  resolveBy(hostsFile: string): void {
    this.hostsFile = hostsFile;
  }

  private exec(argv: string[]): string[] {
    const inner = this.hostsFile ? ['sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', this.hostsFile, ...argv] : argv;
    return ['netns', 'exec', this.name, ...inner];
  }

  create(addresses: string[]): void {
    const ip = (...args: string[]) => {
      const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
      if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`);
    };
    ip('netns', 'add', this.name);
    this.created = true;
    liveNamespaces.add(this.name);
    ip('-n', this.name, 'link', 'set', 'lo', 'up');
    // a dummy interface; a kernel without the dummy driver gets a veth pair with both ends in the namespace
    try {
      ip('-n', this.name, 'link', 'add', 'cluster0', 'type', 'dummy');
    } catch {
      ip('-n', this.name, 'link', 'add', 'cluster0', 'type', 'veth', 'peer', 'name', 'cluster0-peer');
      ip('-n', this.name, 'link', 'set', 'cluster0-peer', 'up');
    }
    for (const a of addresses) ip('-n', this.name, 'addr', 'add', `${a}/${a.includes(':') ? 128 : 32}`, 'dev', 'cluster0');
    ip('-n', this.name, 'link', 'set', 'cluster0', 'up');
    // nothing but these addresses and loopback: no route out of the namespace
    const routes = spawnSync('ip', ['-n', this.name, 'route', 'show', 'default'], { encoding: 'utf8' }).stdout.trim();
    if (routes) throw new Error(`namespace ${this.name} has a default route: ${routes}`);
  }

  /** argv run inside the namespace, bounded in time. */
  run(argv: string[], opts: { timeout?: number; input?: string } = {}): RunResult {
    const r = spawnSync('ip', this.exec(argv), {
      encoding: 'utf8',
      timeout: opts.timeout ?? 60_000,
      input: opts.input,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : '') };
  }

  /** A long-running process inside the namespace; `ip netns exec` (and the sh of resolveBy) exec it, so the pid is the process's own. */
  start(name: string, argv: string[], logFile: string): Proc {
    const fd = openSync(logFile, 'a');
    const child = spawn('ip', this.exec(argv), { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    return new Proc(name, child, logFile);
  }

  /** A veth pair between this namespace and `peer`, with a host route each way: two hosts on one
   *  wire, `ip` here and `peerIp` there (each already an address of its namespace), and nothing else
   *  reachable through it. */
  link(peer: NetNs, ip: string, peerIp: string): void {
    const run = (...args: string[]) => {
      const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
      if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`);
    };
    if (!this.created || !peer.created) throw new Error('link: both namespaces must exist');
    const [here, there] = [`wire-${Math.random().toString(36).slice(2, 8)}`, `wire-${Math.random().toString(36).slice(2, 8)}`];
    run('link', 'add', here, 'netns', this.name, 'type', 'veth', 'peer', 'name', there, 'netns', peer.name);
    run('-n', this.name, 'link', 'set', here, 'up');
    run('-n', peer.name, 'link', 'set', there, 'up');
    const bits = (a: string) => (a.includes(':') ? 128 : 32);
    run('-n', this.name, 'route', 'add', `${peerIp}/${bits(peerIp)}`, 'dev', here, 'src', ip);
    run('-n', peer.name, 'route', 'add', `${ip}/${bits(ip)}`, 'dev', there, 'src', peerIp);
    for (const n of [this, peer]) {
      const routes = spawnSync('ip', ['-n', n.name, 'route', 'show', 'default'], { encoding: 'utf8' }).stdout.trim();
      if (routes) throw new Error(`namespace ${n.name} has a default route: ${routes}`);
    }
  }

  destroy(): void {
    if (!this.created) return;
    spawnSync('ip', ['netns', 'del', this.name], { timeout: 10_000 });
    liveNamespaces.delete(this.name);
    this.created = false;
  }
}

export class Proc {
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly done: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    liveProcs.add(child);
    this.done = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exited = { code, signal };
        liveProcs.delete(child);
        resolve();
      }),
    );
  }

  log(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Throws (with the end of its log) if the process has exited. */
  assertAlive(): void {
    if (this.exited) {
      throw new Error(`${this.name} exited (code ${this.exited.code}, signal ${this.exited.signal}); the end of its log ${this.logFile}:\n${this.log()}`);
    }
  }

  /** SIGTERM by pid, SIGKILL after a grace period. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    process.kill(this.child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (!this.exited && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
    }, graceMs);
    await this.done;
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not undefined) or the time is up; a dead process fails at once. */
export async function waitFor<T>(what: string, probe: () => T | undefined, opts: { timeoutMs: number; alive?: Proc[]; last?: () => string }): Promise<T> {
  const end = Date.now() + opts.timeoutMs;
  for (;;) {
    for (const p of opts.alive ?? []) p.assertAlive();
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${opts.last ? `; last: ${opts.last()}` : ''}`);
    await sleep(1000);
  }
}
