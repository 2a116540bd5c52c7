/**
 * The shape of the code base, checked: no import cycles, imports only in the dependency direction
 * (functions → lib → infra/resources, tools → lib), and no tool code in a Lambda bundle.
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bundleOptions, forbiddenInputs, functionNames } from '../../../scripts/build.ts';
import {
  findCycles,
  forbiddenImports,
  type ImportGraph,
  importGraph,
  importsOf,
} from '../../../scripts/import-graph.ts';

/** The project's own code (tests and bench may import anything). */
const CODE = ['lib', 'functions', 'tools', 'infra', 'scripts', 'bin'];

/** The size target of the bundle every partner event runs through (source map aside). */
const SYNC_USER_MAX_BYTES = 1_048_576;

describe('import graph', () => {
  it('reads aliased and relative imports, type-only ones included, and skips packages', () => {
    const source = [
      "import { z } from 'zod';",
      "import type { Lane } from '#lib/limiter/rate-limiter.ts';",
      "export { x } from './x.ts';",
      "import { y } from '../y.ts';",
    ].join('\n');
    expect(importsOf('lib/sync/a.ts', source)).toEqual([
      'lib/limiter/rate-limiter.ts',
      'lib/sync/x.ts',
      'lib/y.ts',
    ]);
  });

  it('finds a cycle, and nothing in an acyclic graph', () => {
    const cyclic: ImportGraph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(findCycles(cyclic)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    expect(
      findCycles(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', []],
        ]),
      ),
    ).toEqual([]);
  });

  it('flags an import against the dependency direction', () => {
    const graph: ImportGraph = new Map([
      ['lib/a.ts', ['tools/cli/main.ts', 'infra/resources.ts']],
      ['infra/iam.ts', ['lib/ingest/replay-guard.ts']],
    ]);
    expect(forbiddenImports(graph)).toEqual([
      { from: 'lib/a.ts', to: 'tools/cli/main.ts' },
      { from: 'infra/iam.ts', to: 'lib/ingest/replay-guard.ts' },
    ]);
  });

  it('has no import cycle in the project', () => {
    expect(findCycles(importGraph('.', CODE))).toEqual([]);
  });

  it('imports only in the dependency direction', () => {
    expect(forbiddenImports(importGraph('.', CODE))).toEqual([]);
  });
});

describe('function bundles', () => {
  it('flags a metafile input from tools/', () => {
    const inputs = {
      'lib/errors.ts': { bytes: 1, imports: [] },
      'tools/cli/main.ts': { bytes: 1, imports: [] },
    };
    expect(forbiddenInputs({ inputs, outputs: {} })).toEqual(['tools/cli/main.ts']);
  });

  it.each(functionNames())('bundle %s holds no code of tools/', async (name) => {
    const options = { ...bundleOptions(name), write: false, minify: false, sourcemap: false };
    const { metafile } = await build(options);
    expect(Object.keys(metafile.inputs)).toContain(`functions/${name}.ts`);
    expect(forbiddenInputs(metafile)).toEqual([]);
  });

  it('keeps sync-user within 1 MiB, with the AWS SDK as tree-shaken ES modules', async () => {
    const options = { ...bundleOptions('sync-user'), write: false, sourcemap: false };
    const { metafile } = await build(options);
    const inputs = Object.keys(metafile.inputs);
    const bytes = Object.values(metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
    expect(bytes).toBeLessThanOrEqual(SYNC_USER_MAX_BYTES);
    expect(
      inputs.some((input) => /node_modules\/@aws-sdk\/client-sqs\/dist-es\//.test(input)),
    ).toBe(true);
    expect(
      inputs.filter((input) => /node_modules\/@aws-sdk\/[^/]+\/dist-cjs\//.test(input)),
    ).toEqual([]);
  });
});
