// `vmig completion bash|zsh|fish`: prints the script shipped in completions/ (the same file packagers install).
import { readFile } from 'node:fs/promises';
import { VmigError } from '../../errors.js';

export const completionFile = (shell: string): URL => new URL(`../../../completions/vmig.${shell}`, import.meta.url);

export async function printCompletion(shell: string): Promise<void> {
  let script: string;
  try {
    script = await readFile(completionFile(shell), 'utf8');
  } catch (error) {
    throw new VmigError('INTERNAL', `the ${shell} completion script is missing from this vmig installation (${(error as Error).message})`);
  }
  process.stdout.write(script);
}
