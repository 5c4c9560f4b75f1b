// Host URIs: "local", "ssh://[user@]host[:port][?vmig=/path]", or a bare "host" / "user@host" resolved through ~/.ssh/config.
import { VmigError } from '../errors.js';

export type HostUri =
  | { kind: 'local'; text: string; vmigPath?: string }
  | { kind: 'ssh'; text: string; host: string; user?: string; port?: number; vmigPath?: string };

const HOST_PATTERN =
  /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*)$/;
const USER_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const KNOWN_PARAMS = new Set(['vmig']);
/** The only vmig paths accepted: they reach a remote shell, so nothing there may expand (globs, braces, $, quotes). */
export const VMIG_PATH_PATTERN = /^\/[A-Za-z0-9._/+-]*$/;
export const VMIG_PATH_RULE = 'an absolute path of letters, digits and . _ / + - only';

export function parseHostUri(text: string): HostUri {
  const trimmed = text.trim();
  if (trimmed === '') throw new VmigError('BAD_URI', 'empty host URI');
  if (trimmed === 'local' || trimmed === 'local://' || trimmed.startsWith('local?')) {
    const params = new URLSearchParams(trimmed.includes('?') ? trimmed.slice(trimmed.indexOf('?') + 1) : '');
    return { kind: 'local', text: 'local', ...vmigParam(params, text) };
  }
  if (trimmed.startsWith('ssh://')) return parseSshUrl(trimmed);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    throw new VmigError(
      'BAD_URI',
      `unsupported host URI scheme in "${text}" (use local, ssh://[user@]host[:port] or a host from ~/.ssh/config)`,
    );
  }
  if ((trimmed.match(/@/g) ?? []).length > 1)
    throw new VmigError('BAD_URI', `invalid host "${text}" (more than one @)`);
  const [userPart, hostPart] = trimmed.includes('@')
    ? (trimmed.split('@', 2) as [string, string])
    : [undefined, trimmed];
  if (userPart !== undefined && !USER_PATTERN.test(userPart))
    throw new VmigError('BAD_URI', `invalid user name in host "${text}"`);
  if (!HOST_PATTERN.test(hostPart)) throw new VmigError('BAD_URI', `invalid host "${text}"`);
  return { kind: 'ssh', text: trimmed, host: unbracket(hostPart), ...(userPart ? { user: userPart } : {}) };
}

function parseSshUrl(text: string): HostUri {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new VmigError('BAD_URI', `invalid host URI "${text}"`);
  }
  if (!url.hostname) throw new VmigError('BAD_URI', `host URI "${text}" names no host`);
  if (url.password)
    throw new VmigError('BAD_URI', `host URI "${text}" carries a password; vmig authenticates with keys only`);
  if (url.pathname && url.pathname !== '/' && url.pathname !== '')
    throw new VmigError('BAD_URI', `host URI "${text}" has a path; did you mean ?vmig=${url.pathname}`);
  const user = url.username ? decodeURIComponent(url.username) : undefined;
  if (user !== undefined && !USER_PATTERN.test(user))
    throw new VmigError('BAD_URI', `invalid user name in host URI "${text}"`);
  const port = url.port ? Number(url.port) : undefined;
  return {
    kind: 'ssh',
    text,
    host: unbracket(url.hostname),
    ...(user ? { user } : {}),
    ...(port ? { port } : {}),
    ...vmigParam(url.searchParams, text),
  };
}

function vmigParam(params: URLSearchParams, text: string): { vmigPath?: string } {
  for (const key of params.keys()) {
    if (!KNOWN_PARAMS.has(key))
      throw new VmigError('BAD_URI', `unknown parameter "${key}" in host URI "${text}" (known: vmig)`);
  }
  const path = params.get('vmig');
  if (path === null) return {};
  if (!VMIG_PATH_PATTERN.test(path)) throw new VmigError('BAD_URI', `vmig= in "${text}" must be ${VMIG_PATH_RULE}`);
  return { vmigPath: path };
}

const unbracket = (host: string): string => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);

/** A short label for messages: the URI as the operator typed it, minus parameters. */
export const hostLabel = (uri: HostUri): string => {
  if (uri.kind === 'local') return 'local';
  const host = uri.port && uri.host.includes(':') ? `[${uri.host}]` : uri.host;
  return `${uri.user ? `${uri.user}@` : ''}${host}${uri.port ? `:${uri.port}` : ''}`;
};
