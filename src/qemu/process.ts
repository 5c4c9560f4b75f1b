// Starting and stopping QEMU processes. QEMU daemonizes (-daemonize) so it outlives the agent that started it;
// its start-up errors still reach us on the parent's stderr before the parent exits.
import { access, constants, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { VmigError } from '../errors.js';
import { pidRunsWith, terminate, waitForExit } from '../util/process.js';
import { qmpOnce } from './qmp.js';

export const qemuBinary = (env: NodeJS.ProcessEnv = process.env): string => env.VMIG_QEMU || 'qemu-system-x86_64';

/** Launches QEMU and returns its pid once it has daemonized. `log` receives QEMU's whole stderr when it fails. */
export async function launchQemu(
  argv: string[],
  pidFile: string,
  host: string,
  log?: (line: string) => void,
): Promise<number> {
  const result = await execa(qemuBinary(), argv, {
    reject: false,
    timeout: 60_000,
    stdin: 'ignore',
    env: {},
    extendEnv: true,
  });
  if (result.exitCode !== 0 || result.failed) {
    const stderr = String(result.stderr ?? '');
    for (const line of stderr.split('\n')) if (line.trim() !== '') log?.(`QEMU stderr: ${line}`);
    const detail = qemuErrorText(stderr) || result.shortMessage || `exit code ${result.exitCode}`;
    throw new VmigError('QEMU_FAILED', `QEMU on ${host} failed to start: ${detail}`);
  }
  const pid = Number.parseInt((await readFile(pidFile, 'utf8')).trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0)
    throw new VmigError('QEMU_FAILED', `QEMU on ${host} wrote no pid to ${pidFile}`);
  return pid;
}

/**
 * QEMU's error out of its stderr: the lines that are not warnings (under TCG it first warns about CPU features it
 * cannot emulate), without the program-name prefix; only warnings if that is all there is.
 */
export function qemuErrorText(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.replace(/^qemu(-system-\w+)?: /, '').trim())
    .filter((line) => line.length > 0);
  const errors = lines.filter((line) => !/^warning: /i.test(line));
  return (errors.length > 0 ? errors : lines).join('; ');
}

/** Asks QEMU to quit over QMP, then escalates to signals: the instance is gone when this returns. */
export async function stopQemu(pid: number, qmpSocket: string, marker: string): Promise<void> {
  if (!(await pidRunsWith(pid, marker))) return;
  try {
    await qmpOnce(qmpSocket, 'quit', undefined, 3_000);
  } catch {
    // A busy or broken monitor is no reason to keep the process: fall through to signals.
  }
  if (await waitForExit(pid, 5_000)) return;
  if (await pidRunsWith(pid, marker)) await terminate(pid, 3_000);
}

let kvmUsable: Promise<boolean> | undefined;

/**
 * Whether KVM really works here. /dev/kvm can exist yet fail (nested virtualisation, no permission),
 * so "auto" asks QEMU to initialise it instead of trusting the device node.
 */
export function probeKvm(): Promise<boolean> {
  kvmUsable ??= (async () => {
    try {
      await access('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch {
      return false;
    }
    const probe = await execa(
      qemuBinary(),
      ['-machine', 'none,accel=kvm', '-display', 'none', '-nodefaults', '-qmp', 'stdio'],
      {
        input: '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
        reject: false,
        timeout: 5_000,
      },
    );
    return probe.exitCode === 0 && !/failed|error/i.test(String(probe.stderr));
  })();
  return kvmUsable;
}

export async function resolveAccel(requested: 'auto' | 'kvm' | 'tcg', host: string): Promise<'kvm' | 'tcg'> {
  if (requested === 'tcg') return 'tcg';
  const kvm = await probeKvm();
  if (requested === 'kvm' && !kvm)
    throw new VmigError('HOST_UNSUITABLE', `KVM is not usable on ${host} (the domain asks for accel "kvm")`);
  return kvm ? 'kvm' : 'tcg';
}

export async function qemuVersion(): Promise<string> {
  const result = await execa(qemuBinary(), ['--version'], { reject: false, timeout: 5_000 });
  if (result.exitCode !== 0) return 'unavailable';
  return /version ([\d.]+)/.exec(String(result.stdout))?.[1] ?? 'unknown';
}
