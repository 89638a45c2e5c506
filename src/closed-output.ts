/**
 * A reader that goes away (`ptim-bridge ... | head -1`) is not an error: without a listener the
 * EPIPE of the next write would end the process with a stack trace. Output stops; the command ends
 * as it would otherwise (those that write in a loop notice by themselves: replay's NdjsonWriter,
 * `run --dry-run`). Any other write error on stdout (a full disk under `> file`) is a failure.
 */
export function endQuietlyOnClosedOutput(): void {
  const closed = (error: NodeJS.ErrnoException) => error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED';
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (closed(error)) return;
    process.stderr.write(`ptim-bridge: cannot write to standard output: ${error.code ?? error.message}\n`);
    process.exitCode = 1;
  });
  // Nowhere left to say anything: keep the exit code the command chose, or 1.
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (!closed(error)) process.exitCode ||= 1;
  });
}
