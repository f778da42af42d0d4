// Lint: the recommended rules, plus the ones that catch what this library exists to prevent:
// a promise nobody awaits (a release that runs after its owner thinks it is done), and Node-only
// API in the core, which must run in browsers and workers too.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeOnly = {
  patterns: [
    { group: ['node:*'], message: 'Core code runs in any JS runtime: Node integrations live under src/node/.' },
  ],
  paths: ['fs', 'fs/promises', 'net', 'http', 'https', 'events', 'child_process', 'worker_threads', 'async_hooks', 'os', 'path', 'stream', 'timers', 'util', 'v8', 'vm'].map((name) => ({
    name,
    message: 'Core code runs in any JS runtime: Node integrations live under src/node/.',
  })),
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.ci/**', 'coverage/**', 'report/**', 'build/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/it return promises the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/**/*.ts'],
    // src/shared/node.ts is the `node` condition of revocable/shared: it reads worker_threads.threadId.
    ignores: ['src/node/**', 'src/shared/node.ts'],
    rules: {
      'no-restricted-imports': ['error', nodeOnly],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'require', '__dirname', '__filename', 'global', 'setImmediate'],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
