// Lets a child `node` process of a test require the project's TypeScript sources, compiled by swc on load.
const { transformSync } = require('@swc/core');
const fs = require('node:fs');
require.extensions['.ts'] = function compileTs(module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
