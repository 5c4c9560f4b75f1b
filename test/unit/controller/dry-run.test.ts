// The dry run's order and clean-up against fake agents: Begin's and Prepare's checks, one listener probed from
// the source and always closed, an explicit transport the source cannot use refused up front.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { dryRunMigration } from '../../../src/controller/dry-run.js';
import { agentFailure } from '../../../src/controller/host-check.js';
import { VmigError } from '../../../src/errors.js';
import type { HostConnection } from '../../../src/hosts/connection.js';

function fakeHost(label: string, hostId: string, answers: Record<string, unknown>, calls: string[]): HostConnection {
  return {
    uri: { kind: 'ssh', text: label, host: label },
    label,
    hello: { protocol: 1, version: '0', hostname: label, pid: 1, stateDir: '/s', hostId, qemu: '7.2' },
    ssh: undefined,
    events: new EventEmitter(),
    call: (async (method: string) => {
      calls.push(`${label} ${method}`);
      const answer = answers[method];
      if (answer instanceof Error) throw answer;
      return answer;
    }) as HostConnection['call'],
    close: async () => undefined,
  };
}

const sourceAnswers = (reachable: boolean) => ({
  'migrate.dry-begin': { definition: { memoryMiB: 64 }, accel: 'tcg', state: 'running', persistent: true },
  'host.probe-tcp': reachable ? { reachable: true } : { reachable: false, reason: '10.0.0.2:49152: no answer' },
});
const destinationAnswers = {
  'migrate.dry-prepare': { qemu: '7.2.0', accel: 'tcg', memoryMiB: 64, headroomMiB: 64 },
  'host.listen': { id: '1', endpoint: { host: '10.0.0.2', port: 49152 } },
  'host.unlisten': {},
};

describe('migrate --dry-run', () => {
  it('auto: checks both sides, probes one listener, closes it, says tls and why', async () => {
    const calls: string[] = [];
    const plan = await dryRunMigration({
      domain: 'g1',
      source: fakeHost('h1', 'a', sourceAnswers(true), calls),
      destination: fakeHost('h2', 'b', destinationAnswers, calls),
      transport: 'auto',
      transportReason: 'encrypted by default',
    });
    expect(calls).toEqual([
      'h1 migrate.dry-begin',
      'h2 migrate.dry-prepare',
      'h2 host.listen',
      'h1 host.probe-tcp',
      'h2 host.unlisten',
    ]);
    expect(plan.transport).toMatchObject({ transport: 'tls', encrypted: true });
    expect(plan.endpoint).toEqual({ host: '10.0.0.2', port: 49152 });
  });

  it('auto with the port unreachable: ssh; explicit tls: refused, the listener closed all the same', async () => {
    const calls: string[] = [];
    const plan = await dryRunMigration({
      domain: 'g1',
      source: fakeHost('h1', 'a', sourceAnswers(false), calls),
      destination: fakeHost('h2', 'b', destinationAnswers, calls),
      transport: 'auto',
      transportReason: 'encrypted by default',
    });
    expect(plan.transport.transport).toBe('ssh');
    calls.length = 0;
    await expect(
      dryRunMigration({
        domain: 'g1',
        source: fakeHost('h1', 'a', sourceAnswers(false), calls),
        destination: fakeHost('h2', 'b', destinationAnswers, calls),
        transport: 'tls',
        transportReason: '--transport tls was given',
      }),
    ).rejects.toMatchObject({ code: 'HOST_UNSUITABLE', exitCode: 2 });
    expect(calls.at(-1)).toBe('h2 host.unlisten');
  });

  it('ssh needs no port: no listener; a failing Prepare check stops before any listener', async () => {
    const calls: string[] = [];
    const plan = await dryRunMigration({
      domain: 'g1',
      source: fakeHost('h1', 'a', sourceAnswers(true), calls),
      destination: fakeHost('h2', 'b', destinationAnswers, calls),
      transport: 'ssh',
      transportReason: '--transport ssh was given',
    });
    expect(plan.endpoint).toBeUndefined();
    expect(calls.filter((call) => call.includes('host.'))).toEqual([]);
    const refusing = { ...destinationAnswers, 'migrate.dry-prepare': new VmigError('HOST_UNSUITABLE', 'h2 lacks /k') };
    calls.length = 0;
    await expect(
      dryRunMigration({
        domain: 'g1',
        source: fakeHost('h1', 'a', sourceAnswers(true), calls),
        destination: fakeHost('h2', 'b', refusing, calls),
        transport: 'auto',
        transportReason: 'x',
      }),
    ).rejects.toThrow('h2 lacks /k');
    expect(calls).toEqual(['h1 migrate.dry-begin', 'h2 migrate.dry-prepare']);
  });

  it('copied disks: planned as a real run (--migrate-disks), sent to the dry Prepare, reported; a bad name stops before it', async () => {
    const calls: string[] = [];
    const disk = (target: string) => ({
      target,
      path: `/srv/${target}.img`,
      format: 'raw',
      virtualSize: 8 << 20,
      topAllocated: 2 << 20,
      chainAllocated: 2 << 20,
    });
    const source = {
      ...sourceAnswers(true),
      'migrate.dry-begin': { ...sourceAnswers(true)['migrate.dry-begin'], disks: [disk('vda'), disk('vdb')] },
    };
    let sent: unknown;
    const destination = fakeHost('h2', 'b', destinationAnswers, calls);
    const call = destination.call;
    destination.call = (async (method: string, params: unknown) => {
      if (method === 'migrate.dry-prepare') {
        sent = params;
        await call(method as 'migrate.dry-prepare', params as never);
        return {
          ...destinationAnswers['migrate.dry-prepare'],
          storage: {
            images: [{ target: 'vdb', destinationPath: '/big/vdb.img', action: 'reuse', neededBytes: 3 << 20 }],
            space: [],
          },
        };
      }
      return call(method as never, params as never);
    }) as HostConnection['call'];
    const plan = await dryRunMigration({
      domain: 'g1',
      source: fakeHost('h1', 'a', source, calls),
      destination,
      transport: 'ssh',
      transportReason: 'x',
      storage: { copyAll: true, migrateDisks: ['vdb'], storageMap: [{ from: '/srv', to: '/big' }] },
    });
    expect(sent).toMatchObject({
      storage: { copies: [{ target: 'vdb', sourcePath: '/srv/vdb.img', destinationPath: '/big/vdb.img' }] },
    });
    expect(plan.storage?.disks).toEqual([
      expect.objectContaining({ target: 'vdb', destinationPath: '/big/vdb.img', action: 'reuse', sync: 'full' }),
    ]);
    calls.length = 0;
    await expect(
      dryRunMigration({
        domain: 'g1',
        source: fakeHost('h1', 'a', source, calls),
        destination: fakeHost('h2', 'b', destinationAnswers, calls),
        transport: 'ssh',
        transportReason: 'x',
        storage: { copyAll: true, migrateDisks: ['vdz'] },
      }),
    ).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/--migrate-disks names vdz/) });
    expect(calls).toEqual(['h1 migrate.dry-begin']);
  });

  it('refuses the same host', async () => {
    const calls: string[] = [];
    await expect(
      dryRunMigration({
        domain: 'g1',
        source: fakeHost('h1', 'a', {}, calls),
        destination: fakeHost('h1b', 'a', {}, calls),
        transport: 'auto',
        transportReason: 'x',
      }),
    ).rejects.toMatchObject({ code: 'SAME_HOST' });
    expect(calls).toEqual([]);
  });
});

describe('host check: a host without an agent', () => {
  it('names the fix for each cause', () => {
    expect(agentFailure('h3', new VmigError('AGENT_FAILED', 'vmig 0.1.0 not found'))).toMatchObject({
      name: 'agent',
      fix: 'vmig host install h3',
    });
    expect(agentFailure('h3', new VmigError('PROTOCOL_MISMATCH', 'h3 runs vmig 0.0.1'))).toMatchObject({
      name: 'agent',
      fix: 'vmig host install h3',
    });
    expect(agentFailure('h3', new VmigError('HOST_UNREACHABLE', 'cannot reach h3'))).toMatchObject({ name: 'ssh' });
    expect(
      agentFailure(
        'h3',
        new VmigError(
          'HOST_UNSUITABLE',
          'state directory /s is writable by group or others (mode 0777); run chmod go-w /s',
        ),
      ),
    ).toEqual({
      name: 'state-dir',
      status: 'fail',
      detail: 'state directory /s is writable by group or others (mode 0777)',
      fix: 'chmod go-w /s',
    });
  });
});
