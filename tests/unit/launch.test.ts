// How a step's process is started (openssl/exec.ts): through a long-lived /bin/sh per slot, yet
// with exactly the argv, folder and environment it is given, its stderr collected, its exit code
// or signal reported, and a cancelled step's whole process group ended. The programs here are
// small scripts this file writes that record what they were given; none of them is an openssl.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { opensslRunner, resolveBinary, shellWord } from '../../src/openssl/exec.js';

let dir: string;
let stage: string;
const script = (name: string, body: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, `#!/bin/sh\n${body}\n`);
  chmodSync(f, 0o755);
  return f;
};

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'kubepki-launch-'));
  stage = path.join(dir, 'stage');
  mkdirSync(stage);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The pids a script wrote into these files of the stage, once the last of them is written. */
async function pidsOf(...files: string[]): Promise<number[]> {
  const last = path.join(stage, files[files.length - 1]);
  for (let i = 0; i < 200 && !(existsSync(last) && readFileSync(last, 'utf8').trim()); i++) await new Promise((r) => setTimeout(r, 10));
  return files.map((n) => Number(readFileSync(path.join(stage, n), 'utf8')));
}

// a killed process whose parent was killed too stays a zombie until init reaps it
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

// every byte a file name or a subject could hold that a shell would otherwise read as syntax
const HOSTILE = ["a'b", "''", '$(touch pwned)', '`touch pwned`', '${HOME}', '$HOME', '*', '?', '[a]', 'a b', ' lead', 'trail ', 'tab\there', 'line\nbreak', '-n', '--', '', '\\', '\\n', '"dq"', ';', '&', '|', '<x', '>y', '#c', '~', '!', 'é ünï 日本', '/CN=system:kube-controller-manager/O=a+b'];

test('the argv reaches the program byte for byte, and no word is run as shell syntax', async () => {
  const rec = script('rec', 'for a in "$@"; do printf "%s\\0" "$a"; done > argv');
  const r = await opensslRunner(rec).run(HOSTILE, stage);
  expect(r.failure).toBeUndefined();
  expect(r.exitCode).toBe(0);
  const got = readFileSync(path.join(stage, 'argv'), 'utf8').split('\0').slice(0, -1);
  expect(got).toEqual(HOSTILE);
  expect(existsSync(path.join(stage, 'pwned'))).toBe(false);
  expect(existsSync(path.join(stage, 'y'))).toBe(false);
});

test('shellWord quotes with single quotes only', () => {
  expect(shellWord("it's")).toBe("'it'\\''s'");
  expect(shellWord('')).toBe("''");
});

test("the program runs in the step's folder with kubepki's environment (PWD names that folder)", async () => {
  const rec = script('env', 'pwd -P > cwd; env -0 > env');
  const r = await opensslRunner(rec).run([], path.relative(process.cwd(), stage));
  expect(r.exitCode).toBe(0);
  expect(readFileSync(path.join(stage, 'cwd'), 'utf8').trim()).toBe(stage);
  const env = Object.fromEntries(
    readFileSync(path.join(stage, 'env'), 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const { PWD, OLDPWD, ...rest } = env;
  expect(PWD).toBe(stage);
  void OLDPWD;
  const mine = { ...process.env } as Record<string, string>;
  delete mine.PWD;
  delete mine.OLDPWD;
  expect(rest).toEqual(mine);
});

test('stdin is empty and stdout is not the launcher\'s: a program that reads and prints changes nothing', async () => {
  const r1 = await opensslRunner(script('chat', 'cat > got; echo "exit 42"; echo "exit 43" >&2; exit 3')).run([], stage);
  expect(r1).toMatchObject({ exitCode: 3, stderr: 'exit 43' });
  expect(readFileSync(path.join(stage, 'got'), 'utf8')).toBe('');
  // the same slot runs the next program normally
  const r2 = await opensslRunner(script('ok', 'echo fine >&2')).run([], stage);
  expect(r2).toMatchObject({ exitCode: 0, stderr: 'fine' });
});

test("a program's stderr comes back whole, whatever it holds, and nothing of it reaches the next step", async () => {
  const big = script('big', 'i=0; while [ $i -lt 3000 ]; do echo "line $i of stderr, padded to be long enough"; i=$((i+1)); done >&2; printf "\\n0\\ncd\\n" >&2; exit 5');
  const r = await opensslRunner(big).run([], stage);
  expect(r.exitCode).toBe(5);
  const lines = r.stderr.split('\n');
  expect(lines).toHaveLength(3003);
  expect(lines[2999]).toBe('line 2999 of stderr, padded to be long enough');
  expect(lines.slice(3000)).toEqual(['', '0', 'cd']);
  const after = await opensslRunner(script('quiet', 'exit 0')).run([], stage);
  expect(after).toMatchObject({ exitCode: 0, stderr: '' });
});

test('exit codes, a missing or unrunnable program and a signal are reported as such', async () => {
  expect(await opensslRunner(script('one', 'echo "bad arg" >&2; exit 1')).run([], stage)).toMatchObject({ exitCode: 1, stderr: 'bad arg' });
  expect(await opensslRunner(path.join(dir, 'missing')).run([], stage)).toMatchObject({ failure: 'not found' });
  const noexec = path.join(dir, 'noexec');
  writeFileSync(noexec, '#!/bin/sh\n');
  chmodSync(noexec, 0o644);
  expect(await opensslRunner(noexec).run([], stage)).toMatchObject({ failure: 'failed to start: EACCES' });
  expect(await opensslRunner(script('segv', 'kill -SEGV $$')).run([], stage)).toMatchObject({ failure: 'killed by SIGSEGV' });
});

test("cancelling a step ends its program and what that program started (the slot's process group)", async () => {
  const f = script('hang', 'sleep 60 & echo $! > child; echo $$ > self; wait');
  const ac = new AbortController();
  const p = opensslRunner(f).run([], stage, ac.signal);
  const pids = await pidsOf('child', 'self');
  ac.abort();
  expect(await p).toMatchObject({ failure: 'cancelled' });
  for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 20));
  expect(pids.filter(alive)).toEqual([]);
  // later steps still run
  expect(await opensslRunner(script('after', 'exit 0')).run([], stage)).toMatchObject({ exitCode: 0 });
});

test('a program that ignores SIGTERM is killed 2 s after a cancel, with what it started', async () => {
  const f = script('stubborn', "trap '' TERM; sleep 60 & echo $! > child2; echo $$ > self2; wait");
  const ac = new AbortController();
  const p = opensslRunner(f).run([], stage, ac.signal);
  const pids = await pidsOf('child2', 'self2');
  ac.abort();
  await new Promise((r) => setTimeout(r, 300));
  expect(pids.filter(alive)).toEqual(pids);
  expect(await p).toMatchObject({ failure: 'cancelled' });
  for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 20));
  expect(pids.filter(alive)).toEqual([]);
});

test('steps at once get a launcher each', async () => {
  const f = script('slow', 'echo $PPID > "ppid.$1"; sleep 0.2');
  const runner = opensslRunner(f);
  const rs = await Promise.all(['1', '2', '3'].map((n) => runner.run([n], stage)));
  expect(rs.map((r) => r.exitCode)).toEqual([0, 0, 0]);
  const parents = new Set(['1', '2', '3'].map((n) => readFileSync(path.join(stage, `ppid.${n}`), 'utf8').trim()));
  expect(parents.size).toBe(3);
});

test("a program named with a slash is found from kubepki's folder, a bare name on PATH", () => {
  expect(resolveBinary('./bin/openssl')).toBe(path.resolve('bin/openssl'));
  expect(resolveBinary('sh', `/nonexistent:${path.dirname(script('sh', 'exit 0'))}:/bin`)).toBe(path.join(dir, 'sh'));
  expect(resolveBinary('no-such-program-here', '/bin:/usr/bin')).toBe('no-such-program-here');
});
