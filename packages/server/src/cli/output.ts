/** Output for people (aligned tables, key: value blocks) and for scripts (`--json`). */

export type Cell = string | number | boolean | null | undefined;

function cell(value: Cell): string {
  if (value === null || value === undefined) return '-';
  // keep one row per line whatever the data holds
  return String(value).replace(/[\r\n\t]/g, ' ');
}

export function formatTable(rows: readonly Record<string, Cell>[], columns: readonly string[]): string {
  if (rows.length === 0) return '(none)';
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.toUpperCase())),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join('\n');
}

export function formatRecord(record: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(record);
  const width = Math.max(...keys.map((k) => k.length));
  return keys
    .map((k) => {
      const v = record[k];
      const text = v !== null && typeof v === 'object' ? JSON.stringify(v) : cell(v as Cell);
      return `${`${k}:`.padEnd(width + 1)} ${text}`;
    })
    .join('\n');
}

export interface OutputOptions {
  readonly json?: boolean | undefined;
}

/** Prints a single resource. */
export function printRecord(options: OutputOptions, record: Readonly<Record<string, unknown>>): void {
  process.stdout.write(`${options.json ? JSON.stringify(record, null, 2) : formatRecord(record)}\n`);
}

/** Prints a page of resources; `--json` prints the whole page including `nextCursor`. */
export function printPage<T extends Record<string, unknown>>(
  options: OutputOptions,
  page: { items: readonly T[]; nextCursor: string | null },
  columns: readonly string[],
  flatten: (item: T) => Record<string, Cell> = (item) => item as Record<string, Cell>,
): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${formatTable(page.items.map(flatten), columns)}\n`);
  if (page.nextCursor) process.stdout.write(`(more: --cursor ${page.nextCursor})\n`);
}
