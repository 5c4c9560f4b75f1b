// What scripts and logs see of vmig: the plain (non-TTY) output of a real migration line by line, the --json
// event stream validated against its schema, the exit-code classes, the config file, --json of the read-only
// commands, and bash completion of a real host's domain names.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEventStream, type ResultEvent } from '../../src/cli/json-events.js';
import { Lab } from '../../src/lab/lab.js';
import {
  expectCleanFailure,
  expectGuestContinued,
  expectOk,
  expectRunsOnlyOn,
  guestStatus,
  qemuPids,
  startGuest,
} from './support.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: an ANSI escape is what this looks for
const ANSI = /\u001b\[/;

describe('vmig for scripts and logs', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['h1', 'h2'] });
    await startGuest(lab, 'h1', 'g1');
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('non-TTY: one plain line per phase, progress lines, a warning, no colour; one summary line on stdout (exit 0)', async () => {
    const before = await guestStatus(lab, 'h1', 'g1');
    // FORCE_COLOR must not matter: NO_COLOR wins, and a pipe is not a terminal anyway.
    const result = expectOk(
      await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct'], { env: { NO_COLOR: '1', FORCE_COLOR: '1' } }),
    );
    expect(result.stdout + result.stderr).not.toMatch(ANSI);

    const stdout = result.stdout.split('\n').filter(Boolean);
    expect(stdout).toHaveLength(1);
    expect(stdout[0]).toMatch(
      /^Migrated g1 to h2 over direct \(unencrypted\): [\d.]+ (ms|s) total, downtime \d+ ms, [\d.]+ (B|KiB|MiB) in \d+ passes \([\d.]+ (B|KiB|MiB|GiB)\/s\)$/,
    );

    // Known lines exactly; any other phase line (a transport's own detail) must still be `phase: detail`.
    for (const line of [
      'warning: the direct transport sends guest memory unencrypted and unauthenticated over the network',
      'begin: connecting to h1 and h2',
      'begin: checking g1 on h1',
      'prepare: starting the receiving QEMU on h2',
      'finish: resuming g1 on h2',
      'confirm: retiring the old QEMU on h1',
    ])
      expect(result.stderr.split('\n')).toContain(line);
    const patterns: Array<[string, RegExp]> = [
      ['warning', /^warning: \S.*$/],
      [
        'progress',
        /^progress: pass \d+, [\d.]+ (B|KiB|MiB) sent, [\d.]+ (B|KiB|MiB) left in this pass, [\d.]+ (B|KiB|MiB|GiB)\/s(, dirtying [^,]+)?(, expected downtime [^,]+)?(, (~[^,]+ for this pass|not converging: .*))?$/,
      ],
      ['phase', /^(begin|prepare|perform|finish|confirm): \S.*$/],
    ];
    const kinds: string[] = [];
    for (const line of result.stderr.split('\n').filter(Boolean)) {
      const match = patterns.find(([, pattern]) => pattern.test(line));
      expect(match, `unexpected stderr line: ${line}`).toBeDefined();
      kinds.push(match![0] === 'phase' ? line.split(':')[0]! : match![0]);
    }
    // Phases in order; progress lines only within perform.
    const phases = kinds.filter(
      (kind, index) => kind !== 'progress' && kind !== 'warning' && kind !== kinds[index - 1],
    );
    expect(phases).toEqual(['begin', 'prepare', 'perform', 'finish', 'confirm']);
    const progressAt = kinds.map((kind, index) => (kind === 'progress' ? index : -1)).filter((index) => index >= 0);
    for (const index of progressAt) expect(kinds.slice(0, index)).toContain('perform');
    for (const index of progressAt) expect(kinds.slice(index)).toContain('finish');
    await expectGuestContinued(lab, 'h2', 'g1', before);
  });

  it('--json: stdout is nothing but schema-valid events, ending in a completed result (--verbose adds timings and QEMU parameters)', async () => {
    const before = await guestStatus(lab, 'h2', 'g1');
    const result = expectOk(
      await lab.vmig(['-c', 'h2', 'migrate', 'g1', 'h1', '--direct', '--json', '--verbose', '--max-downtime', '400']),
    );
    const events = parseEventStream(result.stdout);
    expect(events[0]).toMatchObject({ type: 'start', domain: 'g1', source: 'h2', destination: 'h1' });
    expect(
      events.filter((event) => event.type === 'warning').map((event) => event.type === 'warning' && event.message),
    ).toEqual(['the direct transport sends guest memory unencrypted and unauthenticated over the network']);
    const phases = events.flatMap((event) => (event.type === 'phase' ? [event.phase] : []));
    expect(phases.filter((phase, index) => phase !== phases[index - 1])).toEqual([
      'begin',
      'prepare',
      'perform',
      'finish',
      'confirm',
    ]);
    expect(events.some((event) => event.type === 'progress')).toBe(true);
    const final = events.at(-1) as ResultEvent;
    expect(final).toMatchObject({
      status: 'completed',
      domain: 'g1',
      source: 'h2',
      destination: 'h1',
      transport: 'direct',
      encrypted: false,
      state: 'running',
    });
    expect(final.transferredBytes).toBeGreaterThan(32 * 1024 * 1024);
    expect(Object.keys(final.phaseTimingsMs ?? {})).toEqual(['begin', 'prepare', 'perform', 'finish', 'confirm']);
    expect(final.qemuParameters).toMatchObject({ 'downtime-limit': 400 });
    // Human text (here the agents' logs, with --verbose) went to stderr only.
    expect(result.stderr).not.toMatch(/^\{/m);
    await expectRunsOnlyOn(lab, 'h1', 'g1');
    await expectGuestContinued(lab, 'h1', 'g1', before);
  });

  it('plain --verbose ends with per-phase timings and the QEMU parameters', async () => {
    const result = expectOk(
      await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct', '--verbose', '--bandwidth', '500']),
    );
    expect(result.stderr).toMatch(
      /^phase timings: begin [\d.]+ m?s, prepare [\d.]+ m?s, perform [\d.]+ m?s, finish [\d.]+ m?s, confirm [\d.]+ m?s$/m,
    );
    expect(result.stderr).toMatch(
      new RegExp(`^QEMU migration parameters: .*max-bandwidth=${500 * 1024 * 1024}( |$)`, 'm'),
    );
    expectOk(await lab.vmig(['-c', 'h2', 'migrate', 'g1', 'h1', '--direct', '--quiet']));
  });

  it('--quiet prints the summary only; --json of list and dominfo is one JSON document', async () => {
    const quiet = expectOk(await lab.vmig(['-c', 'h1', 'migrate', 'g1', 'h2', '--direct', '--quiet']));
    expect(quiet.stderr.trim()).toMatch(/^warning: the direct transport/);
    expect(quiet.stderr.trim().split('\n')).toHaveLength(1);
    expect(quiet.stdout).toMatch(/^Migrated g1 to h2/);
    const list = JSON.parse(expectOk(await lab.vmig(['-c', 'h2', 'list', '--json'])).stdout) as unknown[];
    expect(list).toMatchObject([{ name: 'g1', state: 'running' }]);
    const info = JSON.parse(expectOk(await lab.vmig(['-c', 'h2', 'dominfo', 'g1', '--json'])).stdout) as {
      name: string;
      pid: number;
    };
    expect(info).toMatchObject({ name: 'g1', state: 'running', memoryMiB: 64 });
    expect(await qemuPids(lab, 'h2')).toEqual([info.pid]);
    const job = JSON.parse(expectOk(await lab.vmig(['-c', 'h2', 'domjobinfo', 'g1', '--json'])).stdout) as {
      active: boolean;
    };
    expect(job.active).toBe(false);
    expect(expectOk(await lab.vmig(['-c', 'h2', 'domjobinfo', 'g1'])).stdout.trim()).toBe('Job type:         None');
  });

  it('exit 2: bad usage, before any host is contacted', async () => {
    const missing = await lab.vmig(['-c', 'h2', 'migrate', 'g1']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/missing required argument 'dest'/);
    expect((await lab.vmig(['frobnicate'])).exitCode).toBe(2);
    expectCleanFailure(
      await lab.vmig(['-c', 'h2', 'migrate-setspeed', 'g1', 'fast']),
      2,
      /the speed takes a whole number/,
    );
    expectCleanFailure(await lab.vmig(['-c', 'h2', 'domjobabort', 'g1']), 2, /g1 has no migration job on h2/);
  });

  it('exit 3: a host that cannot be reached', async () => {
    expectCleanFailure(
      await lab.vmig(['-c', 'ssh://root@10.231.0.1:1', 'list']),
      3,
      /cannot reach root@10\.231\.0\.1:1/,
    );
    expectCleanFailure(
      await lab.vmig(['-c', 'h2', 'migrate', 'g1', 'ssh://root@10.231.0.1:1', '--direct', '--json']),
      3,
      /cannot reach/,
    );
  });

  it('config: aliases with a vmig path, the default host and migration defaults; --config beats VMIG_CONFIG; bad keys → exit 2', async () => {
    const file = join(lab.dir, 'vmig.toml');
    await writeFile(
      file,
      [
        'connect = "second"',
        'bandwidth_mibs = 400',
        '[hosts.first]',
        `uri = "${lab.sshUri('h1')}"`,
        `vmig = "${join(lab.repoRoot, 'bin', 'vmig')}"`,
        'max_downtime_ms = 250',
        '[hosts.second]',
        `uri = "${lab.sshUri('h2')}"`,
      ].join('\n'),
    );
    // connect comes from the config; "first" is an alias with an explicit vmig path.
    expect(JSON.parse(expectOk(await lab.vmig(['--config', file, 'list', '--json'])).stdout)).toMatchObject([
      { name: 'g1' },
    ]);
    expect(
      JSON.parse(expectOk(await lab.vmig(['-c', 'first', 'list', '--json'], { env: { VMIG_CONFIG: file } })).stdout),
    ).toEqual([]);
    // A migration between two aliases, with the config's bandwidth and (per destination) max downtime.
    const migrated = expectOk(
      await lab.vmig(['--config', file, 'migrate', 'g1', 'first', '--direct', '--json', '--verbose']),
    );
    const final = parseEventStream(migrated.stdout).at(-1) as ResultEvent;
    expect(final.status).toBe('completed');
    expect(final.qemuParameters).toMatchObject({ 'max-bandwidth': 400 * 1024 * 1024, 'downtime-limit': 250 });
    await expectRunsOnlyOn(lab, 'h1', 'g1');

    const bad = join(lab.dir, 'bad.toml');
    await writeFile(bad, '[hosts.first]\nurl = "ssh://x"\n');
    expectCleanFailure(
      await lab.vmig(['--config', bad, 'list']),
      2,
      /config .*bad\.toml: unknown key hosts\.first\.url/,
    );
    expectCleanFailure(
      await lab.vmig(['list'], { env: { VMIG_CONFIG: join(lab.dir, 'absent.toml') } }),
      2,
      /cannot read config .*absent\.toml: no such file/,
    );
    // --config is read instead of VMIG_CONFIG, so the bad file named by the variable is not read.
    expectOk(await lab.vmig(['--config', file, 'list'], { env: { VMIG_CONFIG: bad } }));
    // Flags beat the config: -c wins over connect.
    expect(JSON.parse(expectOk(await lab.vmig(['--config', file, '-c', 'h1', 'list', '--json'])).stdout)).toMatchObject(
      [{ name: 'g1' }],
    );
  });

  it('bash completion lists the domains of the -c host through a real vmig', async () => {
    const script = `source ${join(lab.repoRoot, 'completions', 'vmig.bash')}; COMP_WORDS=(vmig -c h1 migrate ''); COMP_CWORD=4; _vmig; echo "\${COMPREPLY[@]}"`;
    const result = await lab.exec('controller', ['bash', '-c', script]);
    expect(result.stdout.trim()).toBe('g1');
  });
});
