// `vmig host install HOST…`: makes each host able to run `vmig agent` at exactly this controller's version.
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { ExitCode, VmigError } from '../../errors.js';
import { failedReport, installOnHost, nodeRangeOf, type InstallReport } from '../../controller/host-install.js';
import { parseHostUri } from '../../hosts/uri.js';
import { collectPayload } from '../../install/payload.js';
import { VERSION } from '../../version.js';
import { hostUriOf } from '../hosts.js';
import { formatBytes } from '../../util/format.js';
import { Output, table } from '../output.js';
import type { Action } from '../action.js';

/** The root of the vmig installation running this controller (its bin/, dist/, node_modules/). */
const installationRoot = (): string => fileURLToPath(new URL('../../../', import.meta.url));

function describe(report: InstallReport): string {
  switch (report.status) {
    case 'unchanged':
      return `vmig ${report.version} already installed in ${report.path} (nothing copied)`;
    case 'installed':
    case 'replaced':
      return `${report.status} vmig ${report.version} in ${report.path} (${report.files} files, ${formatBytes(report.bytesSent ?? 0)} sent; node ${report.node})`;
    default:
      return report.error?.message ?? 'failed';
  }
}

const hostInstall: Action = async (globals, hosts, options) => {
  const output = new Output(globals);
  const parallel = Number(options.parallel ?? 4);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64)
    throw new VmigError('USAGE', `--parallel must be a whole number from 1 to 64, not "${String(options.parallel)}"`);
  if (new Set(hosts).size !== hosts.length) throw new VmigError('USAGE', 'a host is named twice');
  // Every URI is checked before any host is contacted.
  const uris = hosts.map((text) => {
    const uri = parseHostUri(hostUriOf(globals, text));
    if (uri.kind === 'local') throw new VmigError('USAGE', 'local runs this vmig itself: there is nothing to install');
    return uri;
  });
  const root = installationRoot();
  const payload = await collectPayload(root).catch((error: Error) => {
    throw new VmigError('INTERNAL', `cannot read this vmig's own files under ${root}: ${error.message}`);
  });
  const nodeRange = await nodeRangeOf(root);
  const { openSshClient } = await import('../../hosts/ssh.js');
  const limit = pLimit(parallel);
  const reports = await Promise.all(
    uris.map((uri, index) =>
      limit(async (): Promise<InstallReport> => {
        const host = hosts[index]!;
        let client;
        try {
          client = await openSshClient(uri as Extract<typeof uri, { kind: 'ssh' }>, {
            acceptNewHostKey: globals.acceptNewHostKey,
          });
        } catch (error) {
          return failedReport({ host, status: 'failed', version: VERSION, buildId: payload.buildId }, error);
        }
        try {
          return await installOnHost(host, client, payload, VERSION, nodeRange);
        } finally {
          client.end();
        }
      }),
    ),
  );
  if (globals.json) output.result(JSON.stringify({ version: VERSION, buildId: payload.buildId, hosts: reports }));
  else
    output.result(
      table(
        ['Host', 'Status', 'Detail'],
        reports.map((report) => [report.host, report.status, describe(report)]),
      ),
    );
  const failed = reports.filter((report) => report.status === 'failed');
  if (failed.length === 0) return;
  const first = failed[0]!;
  throw new VmigError(
    first.error?.code === 'INTERNAL' ? 'INTERNAL' : 'HOST_UNSUITABLE',
    `${first.host}: ${first.error?.message ?? 'failed'}${failed.length > 1 ? ` (and ${failed.length - 1} more host(s), see above)` : ''}`,
    {
      exitCode: (first.exitCode ?? ExitCode.failed) as never,
    },
  );
};
export default hostInstall;
