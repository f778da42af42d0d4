/**
 * `npm run bench`: every suite, one after another, in one process and one run, so the ratios in
 * each table compare figures taken on the same machine at the same moment. Pass suite names to run
 * only those: `npm run bench -- core scope`.
 */
const suites: Record<string, () => Promise<void>> = {
  core: async () => (await import('./core.js')).run(),
  scope: async () => (await import('./scope.js')).run(),
  device: async () => (await import('./device.js')).run(),
  http: async () => (await import('./node-http.js')).run(),
  shared: async () => (await import('./shared.js')).run(),
  remote: async () => (await import('./remote.js')).run(),
};

const wanted = process.argv.slice(2);
console.log(`revocable benchmarks on Node ${process.version}, ${process.platform}/${process.arch}`);
for (const [name, run] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  await run();
}
