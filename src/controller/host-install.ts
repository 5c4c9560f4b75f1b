// `vmig host install`: copies this controller's own build to a host over the SSH connection (a gzip'd tar on
// an exec channel: one round trip instead of one per file over SFTP), into <base>/<version>/, and proves that
// it runs there. The copy lands in a temporary directory and is renamed into place, so a host never holds a
// half-copied version under the name the controller looks for.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Client } from 'ssh2';
import { VmigError, isVmigError } from '../errors.js';
import { INSTALL_BASE_SH, assertVersionWord, shellQuote } from '../hosts/install-layout.js';
import { parseKeyValues, remoteExec } from '../hosts/remote-exec.js';
import type { Payload } from '../install/payload.js';
import { decideInstall, type InstallProbe } from './host-install-plan.js';

export interface InstallReport {
  host: string;
  status: 'installed' | 'replaced' | 'unchanged' | 'failed';
  version: string;
  path?: string;
  node?: string;
  files?: number;
  /** Compressed bytes sent over SSH (0 when nothing was copied). */
  bytesSent?: number;
  buildId: string;
  error?: { code: string; message: string };
  exitCode?: number;
}

const sh = (script: string): string => `/bin/sh -c ${shellQuote(script)}`;

async function probe(client: Client, version: string): Promise<InstallProbe> {
  const dir = `"$base/${version}"`;
  const result = await remoteExec(
    client,
    sh(
      `${INSTALL_BASE_SH}; echo "base=$base"; echo "node=$(node --version 2>/dev/null)";` +
        ` if [ -f ${dir}/.vmig-build ]; then echo "build=$(cat ${dir}/.vmig-build)"; echo "running=$(${dir}/bin/vmig --version 2>/dev/null)"; fi`,
    ),
    undefined,
    30_000,
  );
  if (result.code !== 0)
    throw new VmigError(
      'HOST_UNSUITABLE',
      `the install probe failed (exit ${result.code}): ${result.stderr.trim().split('\n')[0] ?? ''}`,
    );
  const values = parseKeyValues(result.stdout);
  if (!values.base)
    throw new VmigError(
      'HOST_UNSUITABLE',
      'the install probe printed no install directory (is the login shell POSIX?)',
    );
  return { base: values.base, node: values.node ?? '', build: values.build ?? '', running: values.running ?? '' };
}

/** A gzip'd tar of the payload, owned by root in the archive (an install as root must not keep the controller's uid). */
function tarStream(payload: Payload): { stream: PassThrough; sent: () => number; done: Promise<void> } {
  const child = spawn(
    'tar',
    [
      '-czf',
      '-',
      '--no-recursion',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '-C',
      payload.root,
      '--null',
      '-T',
      '-',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  child.stdin.end(payload.files.map((file) => `${file}\0`).join(''));
  let sent = 0;
  let stderr = '';
  const stream = new PassThrough();
  child.stdout.on('data', (chunk: Buffer) => {
    sent += chunk.length;
  });
  child.stdout.pipe(stream);
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error) =>
      reject(new VmigError('INTERNAL', `cannot run tar on the controller: ${error.message}`)),
    );
    child.once('close', (code) =>
      code === 0
        ? resolve()
        : reject(new VmigError('INTERNAL', `tar on the controller failed: ${stderr.trim().split('\n')[0]}`)),
    );
  });
  return { stream, sent: () => sent, done };
}

async function upload(client: Client, payload: Payload, version: string): Promise<{ path: string; bytesSent: number }> {
  const build = assertVersionWord(payload.buildId);
  const script = [
    'set -e',
    INSTALL_BASE_SH,
    `dest="$base/${version}"`,
    `tmp="$base/.${version}.$$"`,
    'trap "rm -rf \\"$tmp\\" \\"$dest.old\\"" EXIT',
    'mkdir -p "$base"',
    'rm -rf "$tmp"',
    'mkdir "$tmp"',
    'tar -xzf - -C "$tmp"',
    `echo ${build} > "$tmp/.vmig-build"`,
    // Proves the copy runs with this host's node before it takes the name the controller looks for.
    `test "$("$tmp/bin/vmig" --version)" = ${version}`,
    'if [ -e "$dest" ]; then rm -rf "$dest.old"; mv "$dest" "$dest.old"; fi',
    'mv "$tmp" "$dest"',
    'echo "path=$dest"',
  ].join('\n');
  const tar = tarStream(payload);
  const [result] = await Promise.all([remoteExec(client, sh(script), tar.stream), tar.done]);
  if (result.code !== 0) {
    throw new VmigError(
      'HOST_UNSUITABLE',
      `copying vmig failed (exit ${result.code}): ${result.stderr.trim().split('\n').at(-1) ?? ''}`,
    );
  }
  const path = parseKeyValues(result.stdout).path;
  if (!path) throw new VmigError('INTERNAL', 'the install script reported no path');
  return { path, bytesSent: tar.sent() };
}

export async function nodeRangeOf(root: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { engines?: { node?: string } };
  return manifest.engines?.node ?? '>=20';
}

/** Installs on one host over an open SSH connection; never throws: failures are in the report. */
export async function installOnHost(
  host: string,
  client: Client,
  payload: Payload,
  version: string,
  nodeRange: string,
): Promise<InstallReport> {
  const base: InstallReport = { host, status: 'failed', version, buildId: payload.buildId };
  try {
    assertVersionWord(version);
    const found = await probe(client, version);
    const path = `${found.base}/${version}`;
    const decision = decideInstall(found, { version, buildId: payload.buildId, nodeRange });
    if (decision.action === 'refuse') throw new VmigError('HOST_UNSUITABLE', decision.reason);
    if (decision.action === 'unchanged')
      return { ...base, status: 'unchanged', path, node: found.node, files: payload.files.length, bytesSent: 0 };
    const copied = await upload(client, payload, version);
    return {
      ...base,
      status: decision.replacing ? 'replaced' : 'installed',
      path: copied.path,
      node: found.node,
      files: payload.files.length,
      bytesSent: copied.bytesSent,
    };
  } catch (error) {
    return failedReport(base, error);
  }
}

export function failedReport(base: InstallReport, error: unknown): InstallReport {
  const vmigError = isVmigError(error) ? error : new VmigError('INTERNAL', (error as Error)?.message ?? String(error));
  return {
    ...base,
    status: 'failed',
    error: { code: vmigError.code, message: vmigError.message },
    exitCode: vmigError.exitCode,
  };
}
