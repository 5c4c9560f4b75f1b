// Keeps the man page and the completion scripts in step with the commander definition: the completion
// scripts are generated from it (npm run completions) and must be exactly what `vmig completion` prints; the
// man page must document every command and each of its options in that command's section.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { completionScript, type Shell } from '../../../src/cli/completion/index.js';
import { buildProgram } from '../../../src/cli/program.js';
import { VERSION } from '../../../src/version.js';
import { manItems, manSection, manText, root, scripts, word } from '../docs-text.js';

const program = buildProgram(VERSION);
const visible = (command: Command) => !(command as unknown as { _hidden?: boolean })._hidden;
const commands = program.commands.filter(visible);
const longOptions = (command: Command) =>
  command.options.map((option) => option.long).filter((long): long is string => long !== undefined);

describe('man page', () => {
  it('has a section for every command', () => {
    const missing = commands.map((command) => command.name()).filter((name) => manSection(name) === '');
    expect(missing).toEqual([]);
  });

  it("documents every option of a command in that command's section (global ones under GLOBAL OPTIONS)", () => {
    const globalSection = manText.slice(manText.indexOf('.SH GLOBAL OPTIONS'), manText.indexOf('.SH COMMANDS'));
    const missing = [
      ...longOptions(program)
        .filter((long) => !word(globalSection, long))
        .map((long) => `vmig ${long}`),
      ...commands.flatMap((command) => {
        const section = manSection(command.name());
        // evacuate's per-guest options are migrate's: its section says so once (test/unit/options/drift.test.ts).
        const own =
          command.name() === 'evacuate'
            ? longOptions(command).filter(
                (long) => !longOptions(commands.find((c) => c.name() === 'migrate')!).includes(long),
              )
            : longOptions(command);
        return own
          .filter((long) => !manItems(section).includes(long) && !word(section, long))
          .map((long) => `${command.name()} ${long}`);
      }),
    ];
    expect(missing).toEqual([]);
  });

  it('documents every exit code, environment variable and the JSON event types', () => {
    for (const code of ['0', '1', '2', '3', '4', '5', '70']) expect(manText).toMatch(new RegExp(`^\\.B ${code}$`, 'm'));
    for (const variable of [
      'VMIG_STATE_DIR',
      'VMIG_HOST_CONFIG',
      'VMIG_DEFAULT_CONNECT',
      'VMIG_QEMU',
      'VMIG_CONFIG',
      'NO_COLOR',
      'XDG_CONFIG_HOME',
    ])
      expect(manText).toContain(variable);
    for (const type of ['start', 'phase', 'progress', 'warning', 'result'])
      expect(manText).toMatch(new RegExp(`^\\.B ${type}$`, 'm'));
    expect(manText).toMatch(/virsh's\s+\.BR? --direct/);
  });

  it('renders with man -l without warnings', () => {
    const warnings = execFileSync('sh', ['-c', 'MANWIDTH=80 man --warnings -l man/vmig.1 2>&1 >/dev/null'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(warnings).toBe('');
  });
});

describe.each(Object.entries(scripts))('%s completion', (shell, script) => {
  it('is exactly the script generated from the command definition (npm run completions)', () => {
    expect(script).toBe(completionScript(program, shell as Shell));
  });

  it('offers every command and every option', () => {
    const missing = [
      ...commands.map((command) => command.name()).filter((name) => !word(script, name)),
      ...[program, ...commands].flatMap((command) =>
        longOptions(command)
          .filter((long) => !word(script, long) && !word(script, long.slice(2)))
          .map((long) => `${command.name()} ${long}`),
      ),
    ];
    expect(missing).toEqual([]);
  });
});

describe('bash completion in a real bash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmig-completion-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // A stand-in vmig on the PATH that answers `list --all --json` and records its arguments.
  const stub = join(dir, 'vmig');
  writeFileSync(
    stub,
    `#!/bin/sh\necho "$@" > ${dir}/args\necho '[{"name":"web1","uuid":"u1","state":"running","persistent":true},{"name":"db2","uuid":"u2","state":"shut off","persistent":true}]'\n`,
  );
  chmodSync(stub, 0o755);

  const complete = (words: string[], cword = words.length - 1): string[] => {
    const script = `source completions/vmig.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${cword}; _vmig; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const out = execFileSync('bash', ['-c', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, HOME: dir },
    });
    return out.split('\n').filter(Boolean).sort();
  };

  it('registers _vmig for vmig', () => {
    expect(
      execFileSync('bash', ['-c', 'source completions/vmig.bash; complete -p vmig'], {
        cwd: root,
        encoding: 'utf8',
      }).trim(),
    ).toBe('complete -F _vmig vmig');
  });

  it('completes command names, global and command options', () => {
    expect(complete(['vmig', 'mig'])).toEqual(['migrate', 'migrate-setmaxdowntime', 'migrate-setspeed']);
    expect(complete(['vmig', '-c', 'hv1', 'domjob'])).toEqual(['domjobabort', 'domjobinfo']);
    expect(complete(['vmig', '--ver'])).toEqual(['--verbose', '--version']);
    expect(complete(['vmig', 'migrate', 'web1', 'hv2', '--undef'])).toEqual(['--undefinesource']);
    expect(complete(['vmig', 'completion', ''])).toEqual(['bash', 'fish', 'zsh']);
  });

  it("offers each command's own options and the global ones after `vmig COMMAND --`", () => {
    const globals = longOptions(program);
    const missing = commands.flatMap((command) => {
      const offered = new Set(complete(['vmig', command.name(), '--']));
      return [...longOptions(command), ...globals]
        .filter((long) => !offered.has(long))
        .map((long) => `${command.name()} ${long}`);
    });
    expect(missing).toEqual([]);
  });

  it('completes domain names from `vmig list` on the host given with -c', () => {
    expect(complete(['vmig', '-c', 'ssh://hv1', 'migrate', ''])).toEqual(['db2', 'web1']);
    expect(readFileSync(join(dir, 'args'), 'utf8').trim()).toBe('-c ssh://hv1 list --all --json');
    expect(complete(['vmig', 'dominfo', 'w'])).toEqual(['web1']);
    // The second argument of migrate is a host, not a domain.
    expect(complete(['vmig', 'migrate', 'web1', 'loc'])).toEqual(['local']);
  });
});

describe('vmig completion SHELL', () => {
  it('prints the generated script, the same as the shipped file', async () => {
    const { printCompletion } = await import('../../../src/cli/commands/completion.js');
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
    try {
      for (const shell of ['bash', 'zsh', 'fish'] as const) printCompletion(shell, program);
    } finally {
      spy.mockRestore();
    }
    expect(written).toEqual([scripts.bash, scripts.zsh, scripts.fish]);
  });
});

// Where the shell is installed (CI images may lack zsh and fish): the generated script parses, and fish completes.
const installed = (shell: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${shell}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

describe.each(['zsh', 'fish'])('%s completion in a real shell', (shell) => {
  it.skipIf(!installed(shell))('parses (shell -n)', () => {
    expect(() => execFileSync(shell, ['-n', `completions/vmig.${shell}`], { cwd: root, stdio: 'pipe' })).not.toThrow();
  });
});

describe('fish completion in a real fish', () => {
  it.skipIf(!installed('fish'))('offers commands, the per-guest options of evacuate and option values', () => {
    const complete = (line: string) =>
      execFileSync('fish', ['-c', `source completions/vmig.fish; complete -C ${JSON.stringify(line)}`], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, HOME: root },
      })
        .split('\n')
        .map((entry) => entry.split('\t')[0])
        .filter(Boolean);
    expect(complete('vmig mig')).toEqual(['migrate', 'migrate-setmaxdowntime', 'migrate-setspeed']);
    expect(complete('vmig evacuate h1 --post')).toEqual(['--postcopy', '--postcopy-after-precopy']);
    expect(complete('vmig migrate web1 hv2 --timeout-action ').sort()).toEqual(['abort', 'postcopy', 'suspend']);
  });
});
