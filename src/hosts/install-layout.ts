// Where `vmig host install` puts a build on a host, and how the controller finds it there: one directory per
// version, side by side, so that controllers of different versions each find their own agent.
//   root:      /usr/local/lib/vmig/<version>/bin/vmig
//   any user:  ~/.local/lib/vmig/<version>/bin/vmig
//   override:  $VMIG_INSTALL_DIR/<version>/bin/vmig   (set in the host's sshd environment, e.g. by the lab)
// The scripts run in the login shell of the SSH user, so they are POSIX sh and contain no single quote.

/** POSIX single-quoting for one word. */
export const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/** Sets $base to the install root this user gets on this host. */
export const INSTALL_BASE_SH =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a JavaScript template
  'if [ -n "${VMIG_INSTALL_DIR:-}" ]; then base="$VMIG_INSTALL_DIR"; elif [ "$(id -u)" = 0 ]; then base=/usr/local/lib/vmig; else base="$HOME/.local/lib/vmig"; fi';

/** A version string safe to put in a path and a shell word (package.json versions are). */
export function assertVersionWord(version: string): string {
  if (!/^[0-9A-Za-z.+-]+$/.test(version)) throw new Error(`unexpected vmig version "${version}"`);
  return version;
}

/**
 * The remote command that starts the agent: this controller's version from the install directories first
 * (Ansible-style: the controller uses the build it installed, whatever else the PATH holds), then `vmig` on
 * the PATH (a package install); exit 127 when neither exists. A PATH vmig of another version is caught by hello.
 */
export function installedAgentCommand(version: string): string {
  const v = assertVersionWord(version);
  const script = [
    `for d in "\${VMIG_INSTALL_DIR:-/nonexistent}" /usr/local/lib/vmig "$HOME/.local/lib/vmig"; do`,
    `if [ -x "$d/${v}/bin/vmig" ]; then exec "$d/${v}/bin/vmig" agent; fi; done;`,
    'if command -v vmig >/dev/null 2>&1; then exec vmig agent; fi;',
    // Silent: the controller words the message, naming the host as the operator typed it.
    'exit 127',
  ].join(' ');
  return `/bin/sh -c ${shellQuote(script)}`;
}
