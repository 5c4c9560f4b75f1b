// Whether a stream gets colour: --no-color / NO_COLOR, then FORCE_COLOR, then whether it is a TTY.
// Dependency-free, so that the error line of main.ts follows the same rule without loading chalk.

export function useColor(stream: NodeJS.WriteStream, flag: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!flag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}
