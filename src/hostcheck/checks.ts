// The vocabulary of `vmig host check`, shared by agent and controller: one result per check, and the pure
// judgements (modes, sizes) that turn facts into results with their fix.
export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  /** Short and stable: "qemu", "kvm", "state-dir", … (scripts select on it). */
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do, for a warn or fail. */
  fix?: string;
}

export const pass = (name: string, detail: string): CheckResult => ({ name, status: 'pass', detail });
export const warn = (name: string, detail: string, fix: string): CheckResult => ({ name, status: 'warn', detail, fix });
export const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, status: 'fail', detail, fix });

export interface DirFacts {
  path: string;
  exists: boolean;
  uid?: number;
  mode?: number;
}

/** The state dir and its private subdirectories must belong to the agent's user and not be writable by others. */
export function judgeStateDir(root: DirFacts, privateDirs: DirFacts[], agentUid: number): CheckResult {
  const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');
  if (!root.exists)
    return warn(
      'state-dir',
      `${root.path} does not exist yet`,
      `it is created on first use; or create it: mkdir -m 700 ${root.path}`,
    );
  if (root.uid !== agentUid)
    return fail(
      'state-dir',
      `${root.path} belongs to uid ${root.uid}, the agent runs as uid ${agentUid}`,
      `chown ${agentUid} ${root.path}`,
    );
  if ((root.mode! & 0o022) !== 0)
    return fail(
      'state-dir',
      `${root.path} is mode ${octal(root.mode!)}: others can write to it`,
      `chmod go-w ${root.path}`,
    );
  for (const dir of privateDirs) {
    if (!dir.exists) continue;
    if (dir.uid !== agentUid)
      return fail(
        'state-dir',
        `${dir.path} belongs to uid ${dir.uid}, the agent runs as uid ${agentUid}`,
        `chown ${agentUid} ${dir.path}`,
      );
    if ((dir.mode! & 0o077) !== 0)
      return fail(
        'state-dir',
        `${dir.path} is mode ${octal(dir.mode!)}: QMP sockets and journals must be private`,
        `chmod 700 ${dir.path}`,
      );
  }
  return pass('state-dir', `${root.path} owned by uid ${agentUid}, mode ${octal(root.mode!)}`);
}

const MiB = 1024 * 1024;

export function judgeMemory(availableBytes: number, headroomMiB: number): CheckResult {
  const available = Math.floor(availableBytes / MiB);
  if (available <= headroomMiB)
    return fail(
      'memory',
      `${available} MiB available, ${headroomMiB} MiB must stay free (memory_headroom_mib)`,
      'free memory on the host or lower memory_headroom_mib in host.toml',
    );
  return pass(
    'memory',
    `${available} MiB available, ${available - headroomMiB} MiB for guests after ${headroomMiB} MiB headroom`,
  );
}

export function judgeDisk(path: string, freeBytes: number): CheckResult {
  const free = Math.floor(freeBytes / MiB);
  if (free < 64)
    return fail(
      'disk',
      `${free} MiB free under ${path}`,
      `free space on the file system of ${path} (journals, logs and sockets live there)`,
    );
  return pass('disk', `${free} MiB free under ${path}`);
}

/** A line for an operator: "h2: state-dir: /var/lib/vmig is mode 0777 …; fix: chmod 755 /var/lib/vmig". */
export const failureLine = (host: string, check: CheckResult): string =>
  `${host}: ${check.name}: ${check.detail}${check.fix ? `; fix: ${check.fix}` : ''}`;
