// `vmig completion bash|zsh|fish`: prints the script rendered from the running vmig's own command definition
// (the same text as completions/vmig.SHELL, which packagers install; a unit test keeps the two identical).
import type { Command } from 'commander';
import { completionScript, type Shell } from '../completion/index.js';

export function printCompletion(shell: Shell, program: Command): void {
  process.stdout.write(completionScript(program, shell));
}
