/**
 * ESP-mode detection: against this machine's kernel (no ESP transform) in a throwaway namespace,
 * and with a fake `ip` for a kernel that has ESP and for failures that must not pass for 'libipsec'.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNetns } from '../helpers/netns.ts';
import { run, type ExecOptions, type ExecResult } from '../../src/kernel/exec.ts';
import { detectEspMode } from '../../src/kernel/esp-support.ts';

test('this kernel refuses an ESP state: libipsec, in the kernel\'s words, and nothing is left behind', async () => {
  const ns = await createNetns('esp');
  try {
    const inNamespace = (file: string, args: readonly string[], options?: ExecOptions) => run('ip', ['netns', 'exec', ns.name, file, ...args], options);
    const detection = await detectEspMode(inNamespace);
    assert.equal(detection.mode, 'libipsec');
    assert.match(detection.reason, /Requested type not found/);
    assert.equal((await ns.exec('ip', ['xfrm', 'state', 'show'])).stdout.trim(), '');
  } finally {
    await ns.destroy();
  }
});

test('without `ip` the detection fails and says so, instead of guessing libipsec', async () => {
  const missing = (_file: string, args: readonly string[], options?: ExecOptions) => run('/nonexistent/ip', args, options);
  await assert.rejects(detectEspMode(missing), /cannot tell whether the kernel supports ESP: ip xfrm state add .* failed: spawn \/nonexistent\/ip ENOENT/);
});

interface Call { file: string; args: readonly string[]; options: ExecOptions | undefined }

/** A fake `ip` that answers each call in turn and records what it was asked. */
function fakeIp(...answers: Array<Partial<ExecResult> | Error>) {
  const calls: Call[] = [];
  const exec = async (file: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult> => {
    calls.push({ file, args, options });
    const answer = answers.shift();
    if (answer === undefined) throw new Error(`unexpected call: ${file} ${args.join(' ')}`);
    if (answer instanceof Error) throw answer;
    return { code: 0, stdout: '', stderr: '', ...answer };
  };
  return { exec, calls };
}

test('a kernel that takes the ESP state: xfrm, and the same state is deleted at once', async () => {
  const { exec, calls } = fakeIp({}, {});
  assert.deepEqual(await detectEspMode(exec, { timeoutMs: 1234 }), { mode: 'xfrm', reason: 'the kernel accepted an ESP state' });
  assert.equal(calls.length, 2);
  const [add, remove] = calls as [Call, Call];
  assert.equal(add.file, 'ip');
  assert.deepEqual(add.args.slice(0, 3), ['xfrm', 'state', 'add']);
  const spi = add.args[add.args.indexOf('spi') + 1]!;
  assert.match(spi, /^0x[0-9a-f]+$/);
  assert.ok(Number(spi) >= 0x100, 'SPIs below 256 are reserved');
  assert.deepEqual(remove.args, ['xfrm', 'state', 'delete', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', spi]);
  assert.equal(add.options?.timeoutMs, 1234);
  assert.equal(remove.options?.timeoutMs, 1234);
});

test('each probe draws its own SPI', async () => {
  const spis = new Set<string>();
  for (let i = 0; i < 5; i += 1) {
    const { exec, calls } = fakeIp({}, {});
    await detectEspMode(exec);
    spis.add(calls[0]!.args[calls[0]!.args.indexOf('spi') + 1]!);
  }
  assert.ok(spis.size > 1);
});

test('a probe state that cannot be deleted still means xfrm, and the reason names the leftover', async () => {
  const { exec } = fakeIp({}, new Error('ip xfrm state delete exited 2: RTNETLINK answers: No such process'));
  const detection = await detectEspMode(exec);
  assert.equal(detection.mode, 'xfrm');
  assert.match(detection.reason, /^the kernel accepted an ESP state; deleting the probe state \(ip xfrm state delete src 192\.0\.2\.1 dst 192\.0\.2\.2 proto esp spi 0x[0-9a-f]+\) failed: .*No such process/);
});

test('the ways a kernel says it lacks ESP all mean libipsec', async () => {
  for (const stderr of [
    'Error: Requested type not found.\n',
    'Error: Requested AEAD algorithm not found.\n',
    'Cannot open netlink socket: Protocol not supported\n',
    'RTNETLINK answers: Function not implemented\n',
  ]) {
    const { exec, calls } = fakeIp({ code: 2, stderr });
    const detection = await detectEspMode(exec);
    assert.equal(detection.mode, 'libipsec', stderr);
    assert.equal(detection.reason, `the kernel refused an ESP state: ${stderr.trim()}`);
    assert.equal(calls.length, 1, 'nothing to delete');
  }
});

test('any other refusal fails the detection with the kernel\'s answer', async () => {
  const { exec } = fakeIp({ code: 2, stderr: 'RTNETLINK answers: Operation not permitted\n' });
  await assert.rejects(detectEspMode(exec), { message: 'cannot tell whether the kernel supports ESP: ip xfrm state add exited 2: RTNETLINK answers: Operation not permitted' });
  const silent = fakeIp({ code: 1 });
  await assert.rejects(detectEspMode(silent.exec), /exited 1: \(no output\)/);
});

test('a timed-out `ip` fails the detection', async () => {
  const { exec } = fakeIp(new Error('ip xfrm state add ... was killed (SIGKILL): no exit after 5000 ms'));
  await assert.rejects(detectEspMode(exec), /cannot tell whether the kernel supports ESP: .* was killed/);
});
