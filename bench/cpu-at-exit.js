// Preloaded into a benchmarked process (`node --import ./bench/cpu-at-exit.js ...`): at exit, writes
// the process's CPU time (user + system, all threads) to stderr as `cpu-ms: N`. CPU time, unlike
// wall time, stays meaningful on a machine where other jobs compete for the cores.
process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  process.stderr.write(`cpu-ms: ${Math.round((user + system) / 1000)}\n`);
});
