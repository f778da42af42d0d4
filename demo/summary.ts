/**
 * The storm's verdict in words a reader who never saw the docs can follow: each figure with what it
 * counts, and the section of `docs/demo.md` that explains it (the HTML report links there).
 *
 * 1. Every row says what it measures in plain words; codes such as `EIO` are spelled out.
 * 2. The rows split in two: what happened (varies from run to run) and what must never happen
 *    (each must be 0 for the run to verify).
 */

/** One figure of the summary. */
export interface SummaryRow {
  label: string;
  value: string;
  /** What the figure counts, in a few plain words. */
  means: string;
  /** The anchor in `docs/demo.md` that explains it. */
  anchor: string;
  /** Rows that must be 0 (or equal) for the run to verify. */
  invariant?: boolean;
}

/** What each way of being refused means, for the summary and the docs. */
export const REFUSALS: Record<string, string> = {
  ENOENT: 'open of a node whose device is unplugged',
  ENODEV: 'its device went away while the node was being opened',
  EIO: 'read or write cut short by an unplug',
  EOF: 'read of a file revoked by an unplug (end of file)',
  EBADF: 'operation on a file its consumer had closed',
};

export interface SummaryInput {
  devices: number;
  consumers: number;
  seed: number;
  durationMs: number;
  completed: number;
  refused: Record<string, number>;
  interrupts: number;
  plugs: number;
  unplugs: { remove: number; kill: number };
  drains: { p50: number; p99: number; max: number };
  opens: number;
  releases: number;
  leaked: number;
  useAfterRelease: number;
  callbackAfterRemove: number;
  doubleRelease: number;
}

const ms = (value: number): string => (Number.isNaN(value) ? '-' : `${value.toFixed(1)} ms`);

export function summaryRows(s: SummaryInput): SummaryRow[] {
  const refusedTotal = Object.values(s.refused).reduce((a, b) => a + b, 0);
  const refusedParts = byCount(s.refused).map(([code, n]) => `${n} ${code}`);
  return [
    { label: 'devices, consumers, seed', value: `${s.devices}, ${s.consumers}, ${s.seed}`, means: 'npm start -- --help lists the options', anchor: 'options' },
    { label: 'duration', value: `${(s.durationMs / 1000).toFixed(1)} s`, means: 'wall-clock time', anchor: 'options' },
    { label: 'operations completed', value: String(s.completed), means: 'reads and writes a device answered', anchor: 'operations' },
    {
      label: 'operations refused safely',
      value: refusedParts.length === 0 ? '0' : `${refusedTotal} (${refusedParts.join(', ')})`,
      means: 'a defined error, never a touch of a gone device',
      anchor: 'refused-safely',
    },
    { label: 'interrupts handled', value: String(s.interrupts), means: 'messages a device sent unasked, handled by its driver', anchor: 'interrupts' },
    { label: 'plugs', value: String(s.plugs), means: `devices added: ${s.devices} at the start, then replugs`, anchor: 'plugs-and-unplugs' },
    {
      label: 'unplugs',
      value: `${s.unplugs.remove + s.unplugs.kill} (${s.unplugs.remove} bus.remove, ${s.unplugs.kill} killed)`,
      means: 'killed: the device\'s server dies, its driver notices',
      anchor: 'plugs-and-unplugs',
    },
    {
      label: 'drain time p50 / p99 / max',
      value: `${ms(s.drains.p50)} / ${ms(s.drains.p99)} / ${ms(s.drains.max)}`,
      means: 'how long an unplug waited for operations inside',
      anchor: 'drain-time',
    },
    { label: 'files opened / released', value: `${s.opens} / ${s.releases}`, means: 'every open file\'s release ran, once', anchor: 'files', invariant: true },
    { label: 'objects leaked', value: String(s.leaked), means: 'devices, files and scopes never released', anchor: 'what-must-never-happen', invariant: true },
    { label: 'uses after release', value: String(s.useAfterRelease), means: 'a connection used after its close', anchor: 'what-must-never-happen', invariant: true },
    { label: 'callbacks after remove()', value: String(s.callbackAfterRemove), means: 'an interrupt handler run after remove()', anchor: 'what-must-never-happen', invariant: true },
    { label: 'files released twice', value: String(s.doubleRelease), means: 'a file\'s release run a second time', anchor: 'what-must-never-happen', invariant: true },
  ];
}

const byCount = (counts: Record<string, number>): [string, number][] => Object.entries(counts).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));

/**
 * The summary as terminal text, in two groups, each figure with what it means; the refusals are
 * counted by code on lines of their own, which keeps the text within 100 columns.
 */
export function formatSummary(rows: SummaryRow[], refused: Record<string, number>): string {
  const shown = rows.map((row) => (row.anchor === 'refused-safely' ? { ...row, value: String(Object.values(refused).reduce((a, b) => a + b, 0)) } : row));
  const width = Math.max(...shown.map((row) => row.label.length));
  const valueWidth = Math.max(...shown.map((row) => row.value.length));
  const line = (row: SummaryRow): string => `  ${row.label.padEnd(width)}  ${row.value.padEnd(valueWidth)}  ${row.means}`;
  const codes = byCount(refused).map(([code, n]) => `  ${`${String(n).padStart(6)} ${code}`.padEnd(width)}  ${''.padEnd(valueWidth)}  ${REFUSALS[code] ?? 'another error: see the driver'}`);
  const out: string[] = ['what happened (it varies from run to run)'];
  for (const row of shown.filter((r) => r.invariant !== true)) {
    out.push(line(row));
    if (row.anchor === 'refused-safely') out.push(...codes);
  }
  out.push('', 'what must never happen (all 0, and every file opened is released)', ...shown.filter((r) => r.invariant === true).map(line));
  return `${out.join('\n')}\n`;
}
