// The layout of $VMIG_STATE_DIR on a host. Definitions persist; run/ holds what exists only while QEMU runs.
//   domains/NAME.json      persistent definitions
//   run/NAME/              0700: qmp.sock, user.sock, qemu.pid, serial.log, instance.json
//   locks/NAME.lock        per-domain migration lock
//   locks/NAME.start       held while a QEMU of NAME starts (start, Prepare)
//   journal/ID.json        per-migration phase journal (fsync'd)
//   host-id                a random id that tells two hosts apart even when they share a kernel
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assertDomainName } from '../domain/definition.js';
import { VmigError } from '../errors.js';
import { assertMigrationId } from '../protocol/ids.js';
import { ensureDir, writeFileDurable } from '../util/fs.js';

export const DEFAULT_STATE_DIR = '/var/lib/vmig';
/** sun_path is 108 bytes on Linux. */
const MAX_SOCKET_PATH = 107;

export class StateDir {
  constructor(readonly root: string) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): StateDir {
    return new StateDir(env.VMIG_STATE_DIR || DEFAULT_STATE_DIR);
  }

  get domainsDir(): string {
    return join(this.root, 'domains');
  }
  get runDir(): string {
    return join(this.root, 'run');
  }
  get locksDir(): string {
    return join(this.root, 'locks');
  }
  get journalDir(): string {
    return join(this.root, 'journal');
  }

  // Every path built from a name or id that came over the wire is checked here too: none may leave its directory.
  definitionPath(name: string): string {
    assertDomainName(name);
    return join(this.domainsDir, `${name}.json`);
  }
  instanceDir(name: string): string {
    assertDomainName(name);
    return join(this.runDir, name);
  }
  lockPath(name: string): string {
    assertDomainName(name);
    return join(this.locksDir, `${name}.lock`);
  }
  /** Held while a QEMU of `name` is being started (start or Prepare). */
  startLockPath(name: string): string {
    assertDomainName(name);
    return join(this.locksDir, `${name}.start`);
  }
  journalPath(migrationId: string): string {
    assertMigrationId(migrationId);
    return join(this.journalDir, `${migrationId}.json`);
  }

  instancePaths(name: string) {
    const dir = this.instanceDir(name);
    const paths = {
      dir,
      qmpSocket: join(dir, 'qmp.sock'),
      userQmpSocket: join(dir, 'user.sock'),
      pidFile: join(dir, 'qemu.pid'),
      serialLog: join(dir, 'serial.log'),
      record: join(dir, 'instance.json'),
    };
    if (Buffer.byteLength(paths.userQmpSocket) > MAX_SOCKET_PATH) {
      throw new VmigError(
        'BAD_CONFIG',
        `VMIG_STATE_DIR ${this.root} is too long for QEMU's monitor sockets; use a shorter path`,
      );
    }
    return paths;
  }

  /**
   * Creates the layout (0700: definitions may hold secrets in extraArgs) and checks an existing one: the state
   * dir must belong to this user and be writable by nobody else, or anyone who can write there could plant
   * definitions and locks. Subdirectories vmig made looser in older versions are tightened.
   */
  async ensure(): Promise<void> {
    try {
      await ensureDir(this.root, 0o700);
    } catch (error) {
      throw new VmigError('HOST_UNSUITABLE', `state directory ${this.root} is not usable: ${(error as Error).message}`);
    }
    await checkPrivateDir(this.root, false);
    for (const dir of [this.domainsDir, this.runDir, this.locksDir, this.journalDir]) {
      try {
        await mkdir(dir, { mode: 0o700 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new VmigError(
            'HOST_UNSUITABLE',
            `state directory ${this.root} is not usable: ${(error as Error).message}`,
          );
        }
      }
      await checkPrivateDir(dir, true);
    }
  }

  async hostId(): Promise<string> {
    const path = join(this.root, 'host-id');
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch {
      const id = randomUUID();
      await writeFileDurable(path, `${id}\n`);
      return id;
    }
  }
}

/** Refuses a directory of another owner or one others may write; `tighten` makes one of ours 0700. */
async function checkPrivateDir(dir: string, tighten: boolean): Promise<void> {
  const info = await stat(dir);
  if (!info.isDirectory()) throw new VmigError('HOST_UNSUITABLE', `state directory ${dir} is not a directory`);
  const uid = process.geteuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new VmigError(
      'HOST_UNSUITABLE',
      `state directory ${dir} belongs to uid ${info.uid}, not to uid ${uid} that runs the vmig agent; run chown ${uid} ${dir} (or point VMIG_STATE_DIR elsewhere)`,
    );
  }
  const mode = info.mode & 0o777;
  if (tighten && (mode & 0o077) !== 0) {
    await chmod(dir, 0o700);
    return;
  }
  if ((mode & 0o022) !== 0) {
    throw new VmigError(
      'HOST_UNSUITABLE',
      `state directory ${dir} is writable by group or others (mode ${mode.toString(8).padStart(4, '0')}); run chmod go-w ${dir}`,
    );
  }
}
