/**
 * Builds one minified ESM bundle per Lambda handler in `functions/` with esbuild, for the
 * `nodejs24.x` runtime. The local stack runs these same files, so what is tested is what deploys.
 *
 * Output: `dist/functions/<name>/index.mjs` (+ source map), handler export `handler`, and
 * `dist/meta/<name>.json` (outside what is deployed), esbuild's record of every input a bundle
 * holds. The build fails when a bundle holds code of `tools/` (the operator CLI, the local stack,
 * the simulator): those never ship to Lambda.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';

/** Where the bundles go; `serverless.yml` and the local runner read from here. */
export const BUNDLE_DIR = 'dist/functions';

/** Where esbuild's record of each bundle's inputs goes (not part of the deployed package). */
const METAFILE_DIR = 'dist/meta';

/** Lambda's Node runtime this project targets. */
const NODE_TARGET = 'node24';

/**
 * ESM bundles that contain CommonJS dependencies need a `require`; esbuild leaves calls to it in
 * place, so the banner provides one.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/** The handler entry points: every `functions/*.ts` file. */
export function functionNames(dir = 'functions'): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.ts'))
    .map((file) => basename(file, '.ts'))
    .sort();
}

/** Folders whose code must never be bundled into a function. */
export const NEVER_BUNDLED = ['tools/'] as const;

/** The inputs of a bundle's metafile that come from a folder in NEVER_BUNDLED. */
export function forbiddenInputs(metafile: Metafile): string[] {
  return Object.keys(metafile.inputs).filter((input) =>
    NEVER_BUNDLED.some((folder) => input.startsWith(folder)),
  );
}

/** The esbuild options of one function's bundle. */
export function bundleOptions(name: string): BuildOptions & { metafile: true } {
  return {
    entryPoints: [join('functions', `${name}.ts`)],
    outfile: join(BUNDLE_DIR, name, 'index.mjs'),
    bundle: true,
    minify: true,
    // Error classes keep their names in logs and failure reasons.
    keepNames: true,
    sourcemap: true,
    platform: 'node',
    // The AWS SDK is bundled, not taken from the runtime (docs/deployment.md says why). Its
    // packages publish CommonJS under `main` and ES modules under `module`; esbuild's default
    // for Node picks `main`, one file per client that cannot be tree-shaken. The ES modules can.
    mainFields: ['module', 'main'],
    format: 'esm',
    target: NODE_TARGET,
    banner: { js: ESM_REQUIRE_BANNER },
    logLevel: 'warning',
    metafile: true,
  };
}

/** Bundles every function; resolves with the list of bundle paths. */
export async function buildAll(): Promise<string[]> {
  const names = functionNames();
  await Promise.all(
    names.map(async (name) => {
      const { metafile } = await build(bundleOptions(name));
      mkdirSync(METAFILE_DIR, { recursive: true });
      writeFileSync(join(METAFILE_DIR, `${name}.json`), JSON.stringify(metafile));
      const forbidden = forbiddenInputs(metafile);
      if (forbidden.length > 0) {
        throw new Error(`bundle ${name} holds tool code: ${forbidden.join(', ')}`);
      }
    }),
  );
  return names.map((name) => join(BUNDLE_DIR, name, 'index.mjs'));
}

if (import.meta.main) {
  const bundles = await buildAll();
  console.log(`built ${bundles.length} bundle(s): ${bundles.join(', ')}`);
}
