/**
 * The self-contained HTML report of a storm: the device tree as a picture and a timeline of each
 * device's bound intervals, operations in flight and drain waits, both as inline SVG (no script, no
 * network), plus the verification summary. Each figure and each part links to the section of
 * `docs/demo.md` that explains it (a relative link from where the report is written).
 */
import type { SummaryRow } from './summary.js';

export interface Interval {
  from: number;
  to: number;
}

export interface DeviceTimeline {
  name: string;
  bound: Interval[];
  drains: Interval[];
  ops: (Interval & { kind: 'read' | 'write'; ok: boolean })[];
  unplugs: { at: number; how: 'remove' | 'kill' }[];
}

export interface TreeNode {
  label: string;
  detail?: string;
  children: TreeNode[];
}

export interface ReportInput {
  title: string;
  summary: SummaryRow[];
  /** The link to `docs/demo.md`, relative to the report's folder. */
  guide: string;
  verdict: { ok: boolean; text: string };
  duration: number;
  devices: DeviceTimeline[];
  tree: TreeNode;
  /** When the tree was taken: 'mid-storm', 'at the end'. */
  treeWhen: string;
  mermaid: string;
  text: string;
}

const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** The tree, drawn as an indented outline with connectors, one row per node. */
export function treeSvg(tree: TreeNode): string {
  const rows: { node: TreeNode; depth: number; parentRow: number }[] = [];
  const walk = (node: TreeNode, depth: number, parentRow: number): void => {
    const row = rows.length;
    rows.push({ node, depth, parentRow });
    for (const child of node.children) walk(child, depth + 1, row);
  };
  walk(tree, 0, -1);
  const rowHeight = 26;
  const indent = 28;
  const width = 900;
  const height = rows.length * rowHeight + 10;
  const parts: string[] = [];
  rows.forEach(({ node, depth, parentRow }, row) => {
    const x = 10 + depth * indent;
    const y = 8 + row * rowHeight;
    if (parentRow >= 0) {
      const px = 10 + (depth - 1) * indent + 8;
      const py = 8 + parentRow * rowHeight + 18;
      parts.push(`<path d="M${px} ${py} V${y + 9} H${x}" fill="none" stroke="#94a3b8"/>`);
    }
    const fill = depth === 0 ? '#1e3a8a' : depth === 1 ? '#2563eb' : depth === 2 ? '#0f766e' : '#6b7280';
    const labelWidth = Math.max(60, node.label.length * 7.4 + 16);
    parts.push(`<rect class="node" x="${x}" y="${y}" width="${labelWidth}" height="18" rx="4" fill="${fill}"/>`);
    parts.push(`<text x="${x + 8}" y="${y + 13}" fill="#fff" font-size="12">${escape(node.label)}</text>`);
    if (node.detail) parts.push(`<text x="${x + labelWidth + 8}" y="${y + 13}" fill="#334155" font-size="12">${escape(node.detail)}</text>`);
  });
  return `<svg id="tree" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, monospace">${parts.join('')}</svg>`;
}

/** One row per device: bound intervals, drain waits, operations in flight and unplugs over time. */
export function timelineSvg(devices: readonly DeviceTimeline[], duration: number): string {
  const left = 110;
  const width = 1000;
  const rowHeight = 34;
  const top = 24;
  const height = top + devices.length * rowHeight + 30;
  const x = (t: number): number => left + (Math.max(0, Math.min(t, duration)) / Math.max(duration, 1)) * (width - left - 10);
  const parts: string[] = [];
  for (let tick = 0; tick <= 10; tick++) {
    const t = (duration * tick) / 10;
    parts.push(`<line x1="${x(t)}" y1="${top - 6}" x2="${x(t)}" y2="${height - 24}" stroke="#e2e8f0"/>`);
    parts.push(`<text x="${x(t)}" y="${height - 10}" font-size="10" text-anchor="middle" fill="#64748b">${(t / 1000).toFixed(1)} s</text>`);
  }
  devices.forEach((device, i) => {
    const y = top + i * rowHeight;
    parts.push(`<text x="8" y="${y + 18}" font-size="12" fill="#0f172a">${escape(device.name)}</text>`);
    parts.push(`<rect x="${left}" y="${y + 4}" width="${width - left - 10}" height="22" fill="#f8fafc"/>`);
    for (const b of device.bound) parts.push(`<rect class="bound" x="${x(b.from)}" y="${y + 4}" width="${Math.max(1, x(b.to) - x(b.from))}" height="22" fill="#bbf7d0"><title>bound ${(b.from / 1000).toFixed(2)}–${(b.to / 1000).toFixed(2)} s</title></rect>`);
    for (const op of device.ops) {
      const lane = op.kind === 'read' ? 8 : 15;
      parts.push(`<line x1="${x(op.from)}" y1="${y + lane}" x2="${Math.max(x(op.from) + 0.5, x(op.to))}" y2="${y + lane}" stroke="${op.ok ? (op.kind === 'read' ? '#2563eb' : '#7c3aed') : '#94a3b8'}" stroke-width="3" stroke-opacity="0.5"/>`);
    }
    for (const d of device.drains) parts.push(`<rect class="drain" x="${x(d.from)}" y="${y + 19}" width="${Math.max(2, x(d.to) - x(d.from))}" height="6" fill="#dc2626"><title>drain ${(d.to - d.from).toFixed(1)} ms</title></rect>`);
    for (const u of device.unplugs) parts.push(`<text x="${x(u.at)}" y="${y + 4}" font-size="10" text-anchor="middle" fill="${u.how === 'kill' ? '#dc2626' : '#0f172a'}">${u.how === 'kill' ? '✕' : '▼'}</text>`);
  });
  return `<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-sans-serif, sans-serif">${parts.join('')}</svg>`;
}

export function renderReport(input: ReportInput): string {
  const link = (anchor: string, text: string): string => `<a href="${escape(`${input.guide}#${anchor}`)}">${text}</a>`;
  const rows = input.summary
    .map((row) => `<tr${row.invariant === true ? ' class="invariant"' : ''}><th>${link(row.anchor, escape(row.label))}</th><td>${escape(row.value)}</td><td class="means">${escape(row.means)}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(input.title)}</title>
<style>
body { font: 14px/1.45 ui-sans-serif, system-ui, sans-serif; margin: 24px; color: #0f172a; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; } th, td { text-align: left; padding: 3px 12px 3px 0; } th { font-weight: 500; color: #475569; }
.verdict { display: inline-block; padding: 6px 12px; border-radius: 6px; color: #fff; background: ${input.verdict.ok ? '#15803d' : '#b91c1c'}; }
.legend span { margin-right: 16px; } .sw { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: middle; }
pre { background: #f1f5f9; padding: 12px; overflow: auto; }
td.means { color: #475569; } tr.invariant th { font-weight: 600; } a { color: inherit; }
</style></head><body>
<h1>${escape(input.title)}</h1>
<p class="verdict" id="verdict">${escape(input.verdict.text)}</p>
<p>Every figure links to what it means in ${link('the-summary', 'the guide to this storm')}; the rows in bold must be 0 (and every file opened released) for the run to verify.</p>
<table id="summary">${rows}</table>
<h2>${link('timeline', 'Timeline')}</h2>
<p class="legend"><span><i class="sw" style="background:#bbf7d0"></i>bound</span><span><i class="sw" style="background:#2563eb"></i>read in flight</span><span><i class="sw" style="background:#7c3aed"></i>write in flight</span><span><i class="sw" style="background:#94a3b8"></i>refused safely</span><span><i class="sw" style="background:#dc2626"></i>drain wait</span><span>▼ bus.remove</span><span style="color:#dc2626">✕ endpoint killed</span></p>
${timelineSvg(input.devices, input.duration)}
<h2>${link('the-device-tree', 'Device tree')} ${escape(input.treeWhen)}</h2>
${treeSvg(input.tree)}
<details><summary>As text</summary><pre>${escape(input.text)}</pre></details>
<details><summary>As Mermaid</summary><pre>${escape(input.mermaid)}</pre></details>
</body></html>
`;
}

/** The cluster storm's report (`npm run storm:cluster`): one row per holder process. */
export interface ClusterReportInput {
  title: string;
  summary: [string, string][];
  verdict: { ok: boolean; text: string };
  duration: number;
  /** Per holder process: serving intervals as `bound`, drains as `drains`, the SIGKILL as a kill. */
  holders: DeviceTimeline[];
  /** One line per revoke: what it found and how long it took. */
  revokes: string[];
}

/** The cluster storm's page: verdict, summary, the holders' timeline and the revokes, no script. */
export function renderClusterReport(input: ClusterReportInput): string {
  const rows = input.summary.map(([k, v]) => `<tr><th>${escape(k)}</th><td>${escape(v)}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(input.title)}</title>
<style>
body { font: 14px/1.45 ui-sans-serif, system-ui, sans-serif; margin: 24px; color: #0f172a; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; } th, td { text-align: left; padding: 3px 12px 3px 0; } th { font-weight: 500; color: #475569; }
.verdict { display: inline-block; padding: 6px 12px; border-radius: 6px; color: #fff; background: ${input.verdict.ok ? '#15803d' : '#b91c1c'}; }
.legend span { margin-right: 16px; } .sw { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: middle; }
pre { background: #f1f5f9; padding: 12px; overflow: auto; }
</style></head><body>
<h1>${escape(input.title)}</h1>
<p class="verdict" id="verdict">${escape(input.verdict.text)}</p>
<table id="summary">${rows}</table>
<h2>Holder processes</h2>
<p class="legend"><span><i class="sw" style="background:#bbf7d0"></i>attached, serving writes</span><span><i class="sw" style="background:#dc2626"></i>drain: revoke began → holder detached</span><span style="color:#dc2626">✕ SIGKILL</span></p>
${timelineSvg(input.holders, input.duration)}
<h2>Revokes</h2>
<pre id="revokes">${escape(input.revokes.join('\n'))}</pre>
</body></html>
`;
}
