/** Every suite of the project runs under the leak check: import this module once per test file. */
import { afterEach, beforeEach } from 'node:test';
import { installLeakCheck } from '../../src/testing/index.js';

export const leakTracker = installLeakCheck({ beforeEach, afterEach });
