import { resumePostcopy, type RecoveryTransport } from '../../controller/postcopy-recovery.js';
import { p2pTarget } from '../../controller/migrate.js';
import { planRecovery, type RecoveryPlan } from '../../controller/recovery.js';
import { assertDomainName } from '../../domain/definition.js';
import { VmigError } from '../../errors.js';
import type { HostConnection } from '../../hosts/connection.js';
import { openHost } from '../hosts.js';
import { Output } from '../output.js';
import type { Action } from '../action.js';

const RECOVERY_TRANSPORTS: RecoveryTransport[] = ['ssh', 'tls', 'direct'];

// `vmig recover NAME -c SRC [--destination DST]`: reads both hosts, decides (pure), applies, reports.
const recover: Action = async (globals, [name], options) => {
  assertDomainName(name!);
  // A broken post-copy resumes over a new stream; ssh by default, as it needs no port between the hosts.
  const transport = String(options.transport ?? 'ssh') as RecoveryTransport;
  if (!RECOVERY_TRANSPORTS.includes(transport))
    throw new VmigError('USAGE', `--transport takes ${RECOVERY_TRANSPORTS.join(', ')}, not "${transport}"`);
  // --p2p: the source host's own ssh carries the resumed stream, as in `vmig migrate --p2p`.
  const p2p = options.p2p === true;
  if (p2p && transport !== 'ssh')
    throw new VmigError(
      'USAGE',
      `--p2p is the ssh transport run from the source host: it contradicts --transport ${transport}`,
    );
  const output = new Output(globals);
  const source = await openHost(globals);
  let destination: HostConnection | undefined;
  try {
    const sourceView = await source.call('recover.inspect', { name: name! });
    const destinationUri = (options.destination as string | undefined) ?? sourceView.journal?.peer;
    if (!destinationUri) {
      throw new VmigError(
        'USAGE',
        `no migration of ${name} is recorded on ${source.label}; name the other host with --destination`,
      );
    }
    destination = await openHost(globals, destinationUri);
    const destinationView = await destination.call('recover.inspect', { name: name! });
    const plan = planRecovery(sourceView, destinationView, name!);
    const hosts = { source, destination };
    if (!options.dryRun) {
      for (const step of plan.steps) {
        if (step.action === 'resume-postcopy') {
          const target = p2p ? p2pTarget(destination) : undefined;
          output.info(
            `${source.label} → ${destination.label}: resume the post-copy stream over ${transport}${target ? ` (p2p: ${source.label} opens SSH to ${target.host} itself)` : ''} (${step.why})`,
          );
          await resumePostcopy(source, destination, name!, transport, target);
          continue;
        }
        output.info(`${step.host === 'source' ? source.label : destination.label}: ${step.action} (${step.why})`);
        await hosts[step.host].call('recover.apply', { name: name!, action: step.action });
      }
    }
    report(output, globals.json, plan, name!, options.dryRun === true);
    if (plan.kind === 'busy') throw new VmigError('LOCKED', plan.summary);
    if (plan.kind === 'conflict' || plan.kind === 'lost') throw new VmigError('NEEDS_RECOVERY', plan.summary);
  } finally {
    await Promise.all([source.close(), destination?.close()].map((closing) => closing?.catch(() => undefined)));
  }
};

function report(output: Output, json: boolean, plan: RecoveryPlan, name: string, dryRun: boolean): void {
  if (json) {
    output.event({
      type: 'result',
      domain: name,
      outcome: plan.kind,
      ...('runsOn' in plan ? { runsOn: plan.runsOn } : {}),
      steps: plan.steps,
      summary: plan.summary,
      dryRun,
    });
    return;
  }
  if (plan.kind === 'busy' || plan.kind === 'conflict' || plan.kind === 'lost') return;
  output.result(
    dryRun
      ? `Would do: ${plan.steps.map((step) => `${step.action} on ${step.host}`).join(', ') || 'nothing'}; ${plan.summary}`
      : plan.kind === 'nothing-to-do'
        ? `Nothing to recover: ${plan.summary}`
        : `Recovered: ${plan.summary}`,
  );
}

export default recover;
