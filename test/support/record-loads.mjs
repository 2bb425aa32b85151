// `node --import ./test/support/record-loads.mjs ...`: appends the URL of every module the
// process resolves to the file named by NVCC_LOAD_LOG, one per line: ES imports and dynamic
// imports (loader hooks), and CommonJS require() calls, which the loader hooks of Node 20 do not
// see (the bundle loads ts-morph and tfjs with require). Tests use it to see what a command loaded.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const log = process.env.NVCC_LOAD_LOG;
if (log) {
  register('./record-loads-hooks.mjs', import.meta.url, { data: { log } });
  const load = Module._load;
  Module._load = function recordedLoad(request, parent, isMain, ...rest) {
    if (!request.startsWith('node:') && !Module.isBuiltin(request)) {
      try {
        appendFileSync(log, `${pathToFileURL(Module._resolveFilename(request, parent, isMain)).href}\n`);
      } catch {
        // unresolvable: the load below reports it
      }
    }
    return load.call(this, request, parent, isMain, ...rest);
  };
}
