/** Where in a policy's text a Cedar error points: 1-based line and column. */
export interface SourceLocation {
  readonly line: number;
  readonly column: number;
}

/** The start offset of a Cedar error's first source location, if it has one. */
export function errorOffset(error: {
  sourceLocations?: readonly { start: number }[] | null;
}): number | undefined {
  return error.sourceLocations?.[0]?.start;
}

/**
 * Turns a character offset into `text` into a line and column (1-based), so
 * editors (the console) can show an error at its line. Offsets past the end
 * point at the last line.
 */
export function locate(text: string, offset: number | undefined): SourceLocation | undefined {
  if (offset === undefined || offset < 0) return undefined;
  const before = text.slice(0, offset);
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}
