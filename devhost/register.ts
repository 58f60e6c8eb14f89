/**
 * Makes `require('@azure/functions-core')` resolve to the local host's stand-in (devhost/functionsCore), as the
 * Node worker does with its built-in module. Must run before `@azure/functions` is first required.
 */
import Module from 'node:module';
import path from 'node:path';

const CORE_MODULE = '@azure/functions-core';
const target = require.resolve(path.join(__dirname, 'functionsCore'));

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;
const moduleInternals = Module as unknown as {
  _resolveFilename: ResolveFilename & { devhostPatched?: true };
};

if (!moduleInternals._resolveFilename.devhostPatched) {
  const original = moduleInternals._resolveFilename;
  const patched: ResolveFilename & { devhostPatched?: true } = (request, parent, isMain, options) =>
    request === CORE_MODULE ? target : original.call(Module, request, parent, isMain, options);
  patched.devhostPatched = true;
  moduleInternals._resolveFilename = patched;
}
