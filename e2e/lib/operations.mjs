// Loads the operations in e2e/operations/*.graphql: the same files GraphQL Code Generator
// checks against the schema. Each operation becomes its own document (with the fragments it
// uses), ready for urql or Apollo Client.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse, print, visit } from 'graphql';

export const OPERATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'operations');

/** @returns {Record<string, import('graphql').DocumentNode>} operation name → document */
export function loadOperations(dir = OPERATIONS_DIR) {
  const definitions = readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .flatMap((f) => parse(readFileSync(join(dir, f), 'utf8')).definitions);
  const fragments = new Map(
    definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  /** Fragments `node` spreads, transitively. */
  const used = (node, seen = new Set()) => {
    visit(node, {
      FragmentSpread(spread) {
        const name = spread.name.value;
        if (seen.has(name)) return;
        const fragment = fragments.get(name);
        if (!fragment) throw new Error(`unknown fragment ${name}`);
        seen.add(name);
        used(fragment, seen);
      },
    });
    return seen;
  };
  const operations = {};
  for (const def of definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    if (!def.name) throw new Error('every operation in e2e/operations needs a name');
    const name = def.name.value;
    if (operations[name]) throw new Error(`operation ${name} is defined twice`);
    const doc = {
      kind: Kind.DOCUMENT,
      definitions: [def, ...[...used(def)].map((n) => fragments.get(n))],
    };
    // Re-parse the printed document so its source text is exactly this operation.
    operations[name] = parse(print(doc));
  }
  return operations;
}
