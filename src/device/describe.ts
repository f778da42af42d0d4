/**
 * `describe(busOrDevice)`: the device tree as a developer debugging a hang needs to see it: each
 * device's state and driver, its managed resources in the order they will be released, its device
 * nodes with their open files and operations in flight, and its children. As text, as Mermaid or
 * as DOT (Graphviz) for a picture, or as a plain tree to render yourself.
 *
 * Invariants:
 * 1. Describing reads state only: it takes no access, opens nothing, changes nothing.
 * 2. Managed resources are listed newest first, the order unbind releases them in.
 *
 * @module
 */
import { expected } from '../internal/validate.js';
import { Bus } from './bus.js';
import { Device } from './device.js';
import type { DeviceNode } from './devfs.js';

/** One node of a described tree. */
export interface DescribedNode {
  /** What it is: `bus usb`, `ttyUSB0`, `/dev/ttyUSB0`, `use ttyUSB0 socket`. */
  readonly label: string;
  /** Its state, in a few words. */
  readonly detail?: string;
  /** What kind of node of the tree it is. */
  readonly kind: 'bus' | 'device' | 'managed' | 'resource' | 'node';
  /** What hangs off it, in the order `describe()` prints. */
  readonly children: readonly DescribedNode[];
}

/** Options of {@link describe}. */
export interface DescribeOptions {
  /** `'text'` (default), `'mermaid'` or `'dot'`. */
  format?: 'text' | 'mermaid' | 'dot';
}

/**
 * The device tree under `target` (a bus, or one device) as a {@link DescribedNode}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Bus, Device, describeTree } from 'revocable/device';
 *
 * const bus = new Bus({ name: 'usb' });
 * await bus.add(new Device({ name: 'ttyUSB0' }));
 * await bus.add(new Device({ name: 'ttyUSB1' }));
 * assert.deepEqual(describeTree(bus).children.map((device) => device.label), ['ttyUSB0', 'ttyUSB1']);
 * ```
 */
export function describeTree(target: Bus | Device): DescribedNode {
  if (target instanceof Bus) {
    const drivers = target.drivers.map((driver) => driver.name);
    const devices = target.devices;
    return {
      kind: 'bus',
      label: `bus ${target.name}`,
      detail: `${devices.length} ${devices.length === 1 ? 'device' : 'devices'}; drivers: ${drivers.length === 0 ? 'none' : drivers.join(', ')}${target.deferred.length > 0 ? `; ${target.deferred.length} deferred` : ''}`,
      children: devices.filter((device) => device.parent === null || !devices.includes(device.parent)).map((device) => describeDevice(device, target)),
    };
  }
  if (target instanceof Device) return describeDevice(target, target.bus);
  throw expected('a Bus or a Device', 'target', target);
}

function describeDevice(device: Device, bus: Bus | null): DescribedNode {
  const children: DescribedNode[] = [];
  const resources = managedOf(device);
  if (resources !== undefined && resources.length > 0) {
    children.push({
      kind: 'managed',
      label: 'managed resources',
      detail: 'newest first: the order of release',
      children: resources.map((item, i) => ({ kind: 'resource', label: `${i + 1}. ${item.type}${item.name === undefined ? '' : ` ${item.name}`}`, children: [] })),
    });
  }
  for (const node of nodesOf(device, bus)) {
    const files = node.openFiles;
    const ops = node.operationsInFlight;
    children.push({
      kind: 'node',
      label: node.path,
      detail: `${node.state}; ${files} open ${files === 1 ? 'file' : 'files'}; ${ops} ${ops === 1 ? 'operation' : 'operations'} in flight`,
      children: [],
    });
  }
  for (const child of device.children) children.push(describeDevice(child, bus));
  const driver = device.driver;
  return {
    kind: 'device',
    label: device.name,
    detail: driver === null ? device.state : `${device.state}; driver ${driver.name}`,
    children,
  };
}

function managedOf(device: Device): ReturnType<Device['managed']['contents']> | undefined {
  if (device.state !== 'bound' && device.state !== 'probing' && device.state !== 'unbinding') return undefined;
  try {
    return device.managed.contents();
  } catch {
    return undefined; // between bindings: nothing managed
  }
}

function nodesOf(device: Device, bus: Bus | null): DeviceNode[] {
  const devfs = bus?.devfs;
  if (devfs === null || devfs === undefined) return [];
  return devfs
    .paths()
    .map((path) => devfs.get(path))
    .filter((node): node is DeviceNode => node !== undefined && node.device === device);
}

/**
 * The device tree under `target` as text (default), Mermaid or DOT.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Bus, DevFs, Device, describe } from 'revocable/device';
 *
 * const devfs = new DevFs();
 * const bus = new Bus({ name: 'usb', devfs });
 * await bus.register({ name: 'tty', match: () => true, probe(device) {
 *   device.managed.adopt(new Map(), (buffers) => buffers.clear());
 *   device.managed.node(`/dev/${device.name}`, { read: () => null });
 * } });
 * await bus.add(new Device({ name: 'ttyUSB0' }));
 * await devfs.open('/dev/ttyUSB0');
 * assert.equal(describe(bus), `bus usb  (1 device; drivers: tty)
 * └─ ttyUSB0  (bound; driver tty)
 *    ├─ managed resources  (newest first: the order of release)
 *    │  └─ 1. adopt Map
 *    └─ /dev/ttyUSB0  (live; 1 open file; 0 operations in flight)`);
 * ```
 */
export function describe(target: Bus | Device, options?: DescribeOptions): string {
  if (options !== undefined && (options === null || typeof options !== 'object')) throw expected('an object or undefined', 'options', options);
  const format = options?.format ?? 'text';
  if (format !== 'text' && format !== 'mermaid' && format !== 'dot') throw expected("'text', 'mermaid' or 'dot'", 'options.format', format);
  const tree = describeTree(target);
  if (format === 'text') return text(tree);
  return format === 'mermaid' ? mermaid(tree) : dot(tree);
}

function text(tree: DescribedNode): string {
  const lines: string[] = [];
  const walk = (node: DescribedNode, prefix: string, childPrefix: string): void => {
    lines.push(`${prefix}${node.label}${node.detail === undefined ? '' : `  (${node.detail})`}`);
    node.children.forEach((child, i) => {
      const last = i === node.children.length - 1;
      walk(child, `${childPrefix}${last ? '└─ ' : '├─ '}`, `${childPrefix}${last ? '   ' : '│  '}`);
    });
  };
  walk(tree, '', '');
  return lines.join('\n');
}

function numbered(tree: DescribedNode): { node: DescribedNode; id: string; parent: string | undefined }[] {
  const out: { node: DescribedNode; id: string; parent: string | undefined }[] = [];
  const walk = (node: DescribedNode, parent: string | undefined): void => {
    const id = `n${out.length}`;
    out.push({ node, id, parent });
    for (const child of node.children) walk(child, id);
  };
  walk(tree, undefined);
  return out;
}

const mermaidText = (value: string): string => value.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');

function mermaid(tree: DescribedNode): string {
  const lines = ['graph TD'];
  const shapes: Record<DescribedNode['kind'], [string, string]> = { bus: ['[[', ']]'], device: ['[', ']'], managed: ['[/', '/]'], resource: ['(', ')'], node: ['([', '])'] };
  for (const { node, id, parent } of numbered(tree)) {
    const [open, close] = shapes[node.kind];
    const label = node.detail === undefined ? mermaidText(node.label) : `${mermaidText(node.label)}<br/>${mermaidText(node.detail)}`;
    lines.push(`  ${id}${open}"${label}"${close}`);
    if (parent !== undefined) lines.push(`  ${parent} --> ${id}`);
  }
  return lines.join('\n');
}

function dot(tree: DescribedNode): string {
  const shapes: Record<DescribedNode['kind'], string> = { bus: 'box3d', device: 'box', managed: 'folder', resource: 'note', node: 'cylinder' };
  const lines = ['digraph devices {', '  rankdir=LR;', '  node [fontname="monospace"];'];
  for (const { node, id, parent } of numbered(tree)) {
    const label = (node.detail === undefined ? node.label : `${node.label}\n${node.detail}`).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    lines.push(`  ${id} [shape=${shapes[node.kind]}, label="${label}"];`);
    if (parent !== undefined) lines.push(`  ${parent} -> ${id};`);
  }
  lines.push('}');
  return lines.join('\n');
}
