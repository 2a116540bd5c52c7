/**
 * The project's import graph, read from the sources without a compiler: every `import … from`
 * and `export … from` of a subpath alias (`#lib/…`, `#tools/…`) or a relative path, type-only
 * imports included (a cycle through types is still two modules that cannot be read apart).
 * Used by the architecture tests: no import cycles, and the dependency direction
 * functions → lib → infra/resources, tools → lib, never back.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';

/** Module path (relative to the project root, e.g. `lib/errors.ts`) → the modules it imports. */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

/** Static imports and re-exports; dynamic `import()` is left out (it loads on demand). */
const IMPORT_PATTERN = /^\s*(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]/gm;
/** A Node subpath alias as declared in package.json `imports`: `#lib/x.ts` → `lib/x.ts`. */
const ALIAS_PATTERN = /^#([\w-]+)\//;

/** Every `.ts` file under `dir` (relative to `root`), sorted. */
function sourceFiles(root: string, dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, dir)).sort()) {
    const path = join(dir, entry);
    if (statSync(join(root, path)).isDirectory()) found.push(...sourceFiles(root, path));
    else if (entry.endsWith('.ts')) found.push(path);
  }
  return found;
}

/** The project modules `source` (the text of module `file`) imports; packages are left out. */
export function importsOf(file: string, source: string): string[] {
  const targets: string[] = [];
  for (const match of source.matchAll(IMPORT_PATTERN)) {
    const specifier = match[1]!;
    if (ALIAS_PATTERN.test(specifier)) targets.push(specifier.replace(ALIAS_PATTERN, '$1/'));
    else if (specifier.startsWith('.')) {
      targets.push(posix.join(posix.dirname(file), specifier));
    }
  }
  return targets;
}

/** The import graph of every module under `dirs` (e.g. `lib`, `functions`), read from `root`. */
export function importGraph(root: string, dirs: readonly string[]): ImportGraph {
  const graph = new Map<string, string[]>();
  for (const dir of dirs) {
    for (const file of sourceFiles(root, dir)) {
      graph.set(file, importsOf(file, readFileSync(join(root, file), 'utf8')));
    }
  }
  return graph;
}

/**
 * The import cycles of `graph`: each strongly connected group of two or more modules (or a
 * module importing itself), its members sorted. Empty when the graph is acyclic.
 */
export function findCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const lowest = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (module: string): void => {
    index.set(module, index.size);
    lowest.set(module, index.get(module)!);
    stack.push(module);
    onStack.add(module);
    for (const target of graph.get(module) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        lowest.set(module, Math.min(lowest.get(module)!, lowest.get(target)!));
      } else if (onStack.has(target)) {
        lowest.set(module, Math.min(lowest.get(module)!, index.get(target)!));
      }
    }
    if (lowest.get(module) !== index.get(module)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== module);
    if (group.length > 1 || graph.get(module)?.includes(module)) cycles.push(group.sort());
  };
  for (const module of graph.keys()) if (!index.has(module)) visit(module);
  return cycles;
}

/** One import that goes against the dependency direction. */
export interface ForbiddenImport {
  readonly from: string;
  readonly to: string;
}

/**
 * A rule of the dependency direction: modules under `from` may not import modules under any of
 * `notUnder`, except the paths listed in `except`.
 */
export interface DirectionRule {
  readonly from: string;
  readonly notUnder: readonly string[];
  readonly except?: readonly string[];
}

/**
 * The dependency direction of this project: functions → lib, lib → infra/resources only (the
 * names of the deployed resources), infra → nothing of the runtime, tools → lib; never back.
 */
export const DIRECTION_RULES: readonly DirectionRule[] = [
  { from: 'lib/', notUnder: ['tools/', 'functions/', 'infra/'], except: ['infra/resources.ts'] },
  { from: 'functions/', notUnder: ['tools/', 'infra/'], except: ['infra/resources.ts'] },
  { from: 'infra/', notUnder: ['lib/', 'functions/', 'tools/'] },
];

/** The imports of `graph` that break one of `rules`. */
export function forbiddenImports(
  graph: ImportGraph,
  rules: readonly DirectionRule[] = DIRECTION_RULES,
): ForbiddenImport[] {
  const found: ForbiddenImport[] = [];
  for (const [from, targets] of graph) {
    for (const rule of rules.filter((candidate) => from.startsWith(candidate.from))) {
      for (const to of targets) {
        const banned = rule.notUnder.some((prefix) => to.startsWith(prefix));
        if (banned && !rule.except?.includes(to)) found.push({ from, to });
      }
    }
  }
  return found;
}
