// `vmig completion SHELL` and `npm run completions`: the script for a shell, from the commander definition.
import type { Command } from 'commander';
import { renderBash } from './bash.js';
import { renderFish } from './fish.js';
import { completionModel } from './model.js';
import { renderZsh } from './zsh.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const RENDERERS: Record<Shell, (model: ReturnType<typeof completionModel>) => string> = {
  bash: renderBash,
  zsh: renderZsh,
  fish: renderFish,
};

export function completionScript(program: Command, shell: Shell): string {
  return RENDERERS[shell](completionModel(program));
}
