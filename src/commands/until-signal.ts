/**
 * Resolves with the first SIGINT or SIGTERM (or 'stdout-closed' when asked to watch stdout, for
 * `... | head`). Install it before starting servers, so a signal right after "ready" is a clean stop.
 */
export function untilSignal(options: { stdoutClosed?: boolean } = {}): Promise<NodeJS.Signals | 'stdout-closed'> {
  return new Promise((resolve) => {
    const stop = (why: NodeJS.Signals | 'stdout-closed') => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.stdout.off('error', onStdoutError);
      resolve(why);
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    const onStdoutError = () => stop('stdout-closed');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    if (options.stdoutClosed) process.stdout.on('error', onStdoutError);
  });
}
