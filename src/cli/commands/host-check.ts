// `vmig host check HOST… [--from SRC]`: a table (or --json), one line per failure with its fix; exit 0 only when all pass.
import pLimit from 'p-limit';
import { VmigError } from '../../errors.js';
import { agentFailure, checkConnectedHost, checkPath, type HostCheckReport } from '../../controller/host-check.js';
import type { HostConnection } from '../../hosts/connection.js';
import { failureLine, fail } from '../../hostcheck/checks.js';
import { VERSION } from '../../version.js';
import { openHost } from '../hosts.js';
import { Output, table } from '../output.js';
import type { Action } from '../action.js';

const MARK = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;

const hostCheck: Action = async (globals, hosts, options) => {
  const output = new Output(globals);
  if (new Set(hosts).size !== hosts.length) throw new VmigError('USAGE', 'a host is named twice');
  const from = typeof options.from === 'string' ? options.from : undefined;
  const connections = new Map<string, HostConnection>();
  const reports: HostCheckReport[] = hosts.map((host) => ({ host, checks: [] }));
  const limit = pLimit(4);
  try {
    const names = from && !hosts.includes(from) ? [...hosts, from] : hosts;
    const errors = new Map<string, unknown>();
    await Promise.all(
      names.map((name) =>
        limit(async () => {
          try {
            connections.set(name, await openHost(globals, name));
          } catch (error) {
            errors.set(name, error);
          }
        }),
      ),
    );
    await Promise.all(
      reports.map((report) =>
        limit(async () => {
          const connection = connections.get(report.host);
          if (!connection) {
            report.checks.push(agentFailure(report.host, errors.get(report.host)));
            return;
          }
          try {
            report.checks.push(...(await checkConnectedHost(connection, VERSION)));
          } catch (error) {
            report.checks.push(
              fail('agent', `the checks failed: ${(error as Error).message}`, `vmig host install ${report.host}`),
            );
          }
        }),
      ),
    );
    if (from) {
      const source = connections.get(from);
      for (const report of reports) {
        if (report.host === from) continue;
        const destination = connections.get(report.host);
        if (!source)
          report.checks.push(
            fail(
              `from ${from}`,
              `cannot check the path from ${from}: ${(errors.get(from) as Error | undefined)?.message ?? 'no agent'}`,
              `vmig host check ${from}`,
            ),
          );
        else if (destination) {
          report.checks.push(
            await checkPath(source, from, destination).catch((error: Error) =>
              fail(`from ${from}`, `the path check failed: ${error.message}`, `vmig host check ${report.host}`),
            ),
          );
        }
      }
    }
  } finally {
    await Promise.all([...connections.values()].map((connection) => connection.close().catch(() => undefined)));
  }

  const failures = reports.flatMap((report) =>
    report.checks.filter((check) => check.status === 'fail').map((check) => ({ host: report.host, check })),
  );
  if (globals.json) {
    output.result(JSON.stringify({ version: VERSION, ok: failures.length === 0, hosts: reports }));
  } else {
    const colour = (status: keyof typeof MARK) =>
      (status === 'pass' ? output.chalk.green : status === 'warn' ? output.chalk.yellow : output.chalk.red)(
        MARK[status],
      );
    const rows = reports.flatMap((report) =>
      report.checks.map((check) => [report.host, check.name, MARK[check.status], check.detail]),
    );
    const text = table(['Host', 'Check', 'Result', 'Detail'], rows);
    // Colour only on a terminal, after alignment (escape codes would upset the column widths).
    output.result(
      process.stdout.isTTY && output.chalk.level > 0
        ? text.replace(
            / (PASS|WARN|FAIL) /g,
            (_, mark: string) => ` ${colour(mark.toLowerCase() as keyof typeof MARK)} `,
          )
        : text,
    );
    for (const warning of reports.flatMap((report) =>
      report.checks.filter((check) => check.status === 'warn').map((check) => failureLine(report.host, check)),
    ))
      output.warn(warning);
  }
  if (failures.length === 0) return;
  for (const { host, check } of failures) process.stderr.write(`${failureLine(host, check)}\n`);
  throw new VmigError(
    'HOST_UNSUITABLE',
    `${failures.length} check${failures.length === 1 ? '' : 's'} failed on ${[...new Set(failures.map((failure) => failure.host))].join(', ')}`,
    { exitCode: 1 },
  );
};
export default hostCheck;
