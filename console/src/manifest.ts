// Reads the few things the console shows from a version's manifest (the
// TOML that GET …/versions/{v} returns, as the server wrote it): the
// [limits] and [capabilities] tables. Not a TOML parser: top-level
// `key = value` lines per table, with values kept as their TOML text.

export type ManifestTables = Map<string, Map<string, string>>;

export function readTables(toml: string): ManifestTables {
  const tables: ManifestTables = new Map([['', new Map()]]);
  let current = tables.get('') as Map<string, string>;
  let pending: { key: string; text: string } | null = null;
  for (const raw of toml.split('\n')) {
    const line = raw.trim();
    if (pending) {
      // A multi-line array: gather until its closing bracket.
      pending.text += ` ${line}`;
      if (line.endsWith(']')) {
        current.set(pending.key, pending.text);
        pending = null;
      }
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      current = new Map();
      tables.set(header[1].trim(), current);
      continue;
    }
    const pair = /^("?[A-Za-z0-9_.-]+"?)\s*=\s*(.*)$/.exec(line);
    if (!pair) continue;
    const key = pair[1].replace(/"/g, '');
    const value = pair[2];
    if (value.startsWith('[') && !value.endsWith(']')) {
      pending = { key, text: value };
    } else {
      current.set(key, value);
    }
  }
  return tables;
}

/** The [limits] as "timeout-ms 5000" pairs. */
export function limitsOf(tables: ManifestTables): [string, string][] {
  return [...(tables.get('limits') ?? new Map()).entries()];
}

/**
 * The capabilities actually granted: non-empty lists, true switches and a
 * key-value scope. Empty lists and false switches grant nothing.
 */
export function grantsOf(tables: ManifestTables): [string, string][] {
  const granted: [string, string][] = [];
  for (const [key, value] of tables.get('capabilities') ?? new Map()) {
    if (value === 'false' || /^\[\s*\]$/.test(value)) continue;
    granted.push([key, value === 'true' ? 'yes' : value.replace(/^\[\s*|\s*,?\s*\]$/g, '').replace(/"/g, '')]);
  }
  return granted;
}
