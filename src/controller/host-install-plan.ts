// The pure half of `vmig host install`: from what the probe found on a host, decide whether to copy.
export interface InstallProbe {
  /** The install root for this SSH user ($VMIG_INSTALL_DIR, /usr/local/lib/vmig or ~/.local/lib/vmig). */
  base: string;
  /** `node --version` on the host ("v20.19.1"), or '' when there is none on its PATH. */
  node: string;
  /** The build id recorded in <base>/<version>/.vmig-build, '' when absent. */
  build: string;
  /** What <base>/<version>/bin/vmig --version printed, '' when it did not run. */
  running: string;
}

export type InstallDecision =
  | { action: 'unchanged' }
  | { action: 'copy'; replacing: boolean }
  | { action: 'refuse'; reason: string };

/** "v20.19.1" against an engines range ">=20.19": only the >= form is used by vmig's package.json. */
export function nodeSatisfies(found: string, range: string): boolean {
  const want = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  const have = /^v?(\d+)\.(\d+)\.(\d+)/.exec(found.trim());
  if (!have) return false;
  if (!want) return true;
  const a = have.slice(1, 4).map(Number);
  const b = want.slice(1, 4).map((part) => Number(part ?? 0));
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! > b[i]!;
  return true;
}

export const minimumNode = (range: string): string => range.replace(/^>=\s*/, '');

export function decideInstall(
  probe: InstallProbe,
  want: { version: string; buildId: string; nodeRange: string },
): InstallDecision {
  if (probe.node === '') {
    return {
      action: 'refuse',
      reason: `no Node.js on the PATH of an SSH session there; install Node.js ${minimumNode(want.nodeRange)} or newer (Debian/Ubuntu: apt install nodejs, or from nodejs.org)`,
    };
  }
  if (!nodeSatisfies(probe.node, want.nodeRange)) {
    return {
      action: 'refuse',
      reason: `Node.js ${probe.node} is too old; install Node.js ${minimumNode(want.nodeRange)} or newer there (Debian/Ubuntu: apt install nodejs, or from nodejs.org)`,
    };
  }
  if (probe.build === want.buildId && probe.running === want.version) return { action: 'unchanged' };
  return { action: 'copy', replacing: probe.build !== '' };
}
