/**
 * `revocable/device`: a small driver model. A {@link Bus} matches {@link Driver}s to {@link Device}s;
 * probe acquires through `device.managed` (devres, with callbacks gated so none runs after unbind
 * began); unbind revokes and drains in the kernel's order; {@link DevFs} holds device nodes whose
 * open files are revoked, revoke(2) style, when their device goes.
 *
 * Runs in any modern JavaScript runtime: nothing here needs Node.
 *
 * @module revocable/device
 */
export { Bus } from './bus.js';
export type { BusOptions, UnbindOptions } from './bus.js';
export { Device, DeviceEvent } from './device.js';
export type { DeviceEventType, DeviceOptions, DeviceState } from './device.js';
export type { Driver } from './driver.js';
export { DevFs, DeviceNode } from './devfs.js';
export type { CreateNodeOptions, DeviceNodeState, NodeRevokeOptions } from './devfs.js';
export { OpenFile } from './revoke.js';
export type { OpenFileState } from './revoke.js';
export type { DeviceFile, FileOperations, PollResult } from './file-operations.js';
export { DeviceScope } from './device-scope.js';
export type { ListenerTarget } from './device-scope.js';
export { DeviceError, ProbeDeferError } from '../errors.js';
export type { DeviceErrorCode } from '../errors.js';
export { describe, describeTree } from './describe.js';
export type { DescribeOptions, DescribedNode } from './describe.js';
