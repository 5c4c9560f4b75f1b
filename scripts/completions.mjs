// Writes completions/vmig.{bash,zsh,fish} from the built command definition (npm run completions).
// test/unit/cli/docs.test.ts fails while the files differ from what `vmig completion SHELL` prints.
import { writeFileSync } from 'node:fs';
import { buildProgram } from '../dist/cli/program.js';
import { completionScript, SHELLS } from '../dist/cli/completion/index.js';
import { VERSION } from '../dist/version.js';

const program = buildProgram(VERSION);
for (const shell of SHELLS)
  writeFileSync(new URL(`../completions/vmig.${shell}`, import.meta.url), completionScript(program, shell));
