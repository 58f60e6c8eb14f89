import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const orchestratorBans = {
  patterns: [
    { group: ['node:*'], message: 'Orchestrators are deterministic: no Node built-ins.' },
    { group: ['@azure/*', '!@azure/functions'], message: 'Orchestrators do no I/O: call an activity.' },
    { group: ['@microsoft/*'], message: 'Orchestrators do no I/O: call an activity.' },
    {
      group: [
        '**/core/graph/*',
        '**/core/state/*',
        '**/core/sources/*',
        '**/devhost/*',
        '**/sandbox/*',
        '**/cli/*',
        '**/functions/*',
        '**/activities/*',
        '!**/activities/names',
        '!**/activities/chatExportNames',
      ],
      message: 'Orchestrators do no I/O: they import activity names and types only, from activities/names.',
    },
  ],
  paths: [
    'fs',
    'path',
    'os',
    'http',
    'https',
    'net',
    'crypto',
    'child_process',
    'stream',
    'zlib',
    'timers',
  ].map((name) => ({
    name,
    message: 'Orchestrators are deterministic: no Node built-ins.',
  })),
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'samples/**',
      '.teams-import/**',
      'test-artifacts/**',
      'coverage/**',
      '.azure-package/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['orchestrators/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', orchestratorBans],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Orchestrators read no environment: pass settings in the input.' },
        { name: 'setTimeout', message: 'Use context.df.createTimer.' },
        { name: 'fetch', message: 'Orchestrators do no I/O.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use context.df.currentUtcDateTime.' },
        {
          object: 'Math',
          property: 'random',
          message: 'Orchestrators are deterministic: derive values from the input.',
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Use context.df.currentUtcDateTime.',
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
