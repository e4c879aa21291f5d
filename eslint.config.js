// Lint rules, including the one-way import direction from ../shared/docs/style.md:
//   protocol <- analysis <- {server, web}
//   inside web: app -> panels/timeline -> state -> connection -> trace -> lib
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Forbid imports matching `groups` from files matching `files`. A later block
 * replaces an earlier one for the same file, so inner layers repeat the outer
 * layer's groups (see SERVER and WEB).
 */
function forbid(files, groups, message) {
  return {
    files,
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: groups, message }] }] },
  };
}

const UI = ['react', 'react-dom', 'zustand', 'd3-*'];
const SERVER = ['@iocpscope/web', ...UI];
const WEB = ['@iocpscope/server', 'node:*', 'ws'];
const above = (...layers) => layers.map((l) => `**/${l}/**`);

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/coverage/**',
      '**/test-results/**',
      '**/playwright-report/**',
      '**/.reports/**',
      'apps/server/native/build/**',
      '.pack/**',
      'bench/.big/**',
      'packages/tracer/build/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  forbid(
    ['packages/protocol/src/**'],
    ['@iocpscope/*', 'node:*', 'ws', ...UI],
    'packages/protocol is shared by browser and server: no internal, node:* or UI imports.',
  ),
  forbid(
    ['packages/analysis/src/**'],
    ['@iocpscope/server', '@iocpscope/web', '@iocpscope/analysis', 'node:*', 'ws', ...UI],
    'packages/analysis imports @iocpscope/protocol only.',
  ),
  forbid(['apps/server/src/**'], SERVER, 'the server never imports the web app or UI libraries.'),
  forbid(
    ['apps/server/src/!(transport)/**'],
    [...SERVER, 'ws'],
    "only apps/server/src/transport imports 'ws'.",
  ),
  forbid(['apps/web/src/**'], WEB, 'the web app never imports the server, ws or node:*.'),
  forbid(
    ['apps/web/src/lib/**'],
    [...WEB, ...UI, ...above('trace', 'connection', 'state', 'timeline', 'panels', 'app')],
    'web/lib imports nothing internal.',
  ),
  forbid(
    ['apps/web/src/trace/**'],
    [...WEB, ...UI, ...above('connection', 'state', 'timeline', 'panels', 'app')],
    'web/trace may import lib only.',
  ),
  forbid(
    ['apps/web/src/connection/**'],
    [...WEB, ...UI, ...above('state', 'timeline', 'panels', 'app')],
    'web/connection may import trace and lib only.',
  ),
  forbid(
    ['apps/web/src/state/**'],
    [...WEB, 'react-dom', 'd3-*', ...above('timeline', 'panels', 'app')],
    'web/state may import connection, trace and lib; it is the only zustand importer.',
  ),
  forbid(
    ['apps/web/src/timeline/**'],
    [...WEB, 'zustand', ...above('panels', 'app')],
    'web/timeline never imports panels, app or zustand (read the store through state/).',
  ),
  forbid(
    ['apps/web/src/panels/**'],
    [...WEB, 'zustand', 'd3-*', ...above('timeline', 'app')],
    'web/panels never imports timeline, app, d3 or zustand (read the store through state/).',
  ),
  // Unit tests run in vitest on Node: they may read the repository's examples from disk.
  forbid(
    ['apps/web/src/trace/**/*.test.ts'],
    [
      '@iocpscope/server',
      'ws',
      ...UI,
      ...above('connection', 'state', 'timeline', 'panels', 'app'),
    ],
    'web/trace tests may import lib and node:* only.',
  ),
);
